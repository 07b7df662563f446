"""Post or update the one runner-fleet note on a merge request.

    python -m components.ops.mr_note --body-file note.md

Runs in a merge-request pipeline: GitLab's predefined variables say where (`CI_SERVER_URL`, or `CI_API_V4_URL`;
`CI_PROJECT_ID`; `CI_MERGE_REQUEST_IID`), and `RUNNER_FLEET_NOTE_TOKEN` holds a project access token with the
`api` scope and at least the Reporter role (the job token cannot write notes; keep the variable masked). The
note carries a hidden marker; the command finds it across every page of notes and edits it, so a merge request
has exactly one runner-fleet note however often the pipeline runs. A body longer than NOTE_BUDGET is summarized
(diff blocks first, then each section's details) and says where the full report is (`--full-report`). Exit 0 when
posted, 1 when GitLab refuses (its status and message, never the token), 2 when the environment or the body file is
missing.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import gitlab
import gitlab.exceptions
import requests

from components.domain.model import REDACTED
from components.spec.problems import one_line
from components.spec.safe_text import escaped_output

MARKER = "<!-- runner-fleet:merge-request-note -->"
"""Hidden in the note's body: how the command finds its own note among all the others."""
TOKEN_ENV = "RUNNER_FLEET_NOTE_TOKEN"
MAX_BODY = 1_000_000
"""GitLab's limit for a note's text, in characters: app/models/note.rb validates `note` with
`length: { maximum: Gitlab::Database::MAX_TEXT_SIZE_LIMIT }`, and lib/gitlab/database.rb sets
`MAX_TEXT_SIZE_LIMIT = 1_000_000` ("to avoid DoS attacks via parsing huge text fields", gitlab-foss commit 5af535d9,
issue gitlab-foss#61974); a longer note is refused (HTTP 400)."""
NOTE_BUDGET = 100_000
"""What the note aims for: well under MAX_BODY, since a reviewer reads it and GitLab renders long notes slowly."""
FENCE = re.compile(r"^```")
EXIT_REFUSED, EXIT_USAGE = 1, 2
PER_PAGE, MAX_PAGES = 100, 1000
TIMEOUT_SECONDS = 30


class UsageError(Exception):
    """Something the pipeline must provide is missing (said without secrets)."""


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise UsageError(f"{name} is not set: run this in a merge-request pipeline (rules: merge_request_event)")
    return value


def server_url(env: Mapping[str, str]) -> str:
    """The GitLab instance: CI_SERVER_URL, else CI_API_V4_URL without its /api/v4."""
    url = env.get("CI_SERVER_URL", "").strip() or env.get("CI_API_V4_URL", "").strip().removesuffix("/")
    url = url.removesuffix("/api/v4")
    if not url.startswith(("https://", "http://")):
        raise UsageError("CI_SERVER_URL (or CI_API_V4_URL) is not set to the GitLab instance's URL")
    return url


def _without_blocks(lines: list[str]) -> list[str]:
    """Fenced blocks (the config.toml diffs) replaced by a line that says where they are."""
    out: list[str] = []
    inside: list[str] | None = None
    for line in lines:
        if FENCE.match(line):
            if inside is None:
                inside = []
                continue
            out.append(f"  _({len(inside)} lines of diff: in the full report)_")
            inside = None
            continue
        if inside is not None:
            inside.append(line)
        else:
            out.append(line)
    return out


def _sections_cut(lines: list[str], keep: int) -> list[str]:
    """Each `####` section cut to its first `keep` lines, with a count of the rest."""
    out: list[str] = []
    left, dropped = keep, 0
    for line in [*lines, "#### "]:
        if line.startswith("###"):
            if dropped:
                out.append(f"- _({dropped} more lines: in the full report)_")
            left, dropped = keep, 0
            if line != "#### ":
                out.append(line)
        elif left > 0:
            out.append(line)
            left -= bool(line.strip())
        else:
            dropped += 1
    return out


def summarize(text: str, where: str, budget: int = NOTE_BUDGET) -> str:
    """`text` when it fits `budget`, else summarized: diff blocks out, then each section cut shorter, then only its
    headings and alerts, finally cut at a line; always with where the full report is."""
    if len(text) <= budget:
        return text
    note = f"\n\n_Summarized to stay under GitLab's note size limit: the full report is in {where}._\n"
    lines = _without_blocks(text.splitlines())
    candidate = ""
    for shorter in (lines, _sections_cut(lines, 8), _sections_cut(lines, 3), _sections_cut(lines, 0)):
        candidate = "\n".join(shorter)
        if len(candidate) + len(note) <= budget:
            return candidate + note
    cut = candidate[: max(0, budget - len(note))]
    return cut[: cut.rfind("\n") + 1] + note


def note_body(text: str, where: str = "the pipeline's artifacts") -> str:
    """The note as posted: the marker, then the body, summarized when long (never past GitLab's limit)."""
    body = f"{MARKER}\n{summarize(text.strip(), where, NOTE_BUDGET - len(MARKER) - 2)}\n"
    return body[:MAX_BODY]


def _client(env: Mapping[str, str], token: str) -> gitlab.Gitlab:
    """A client that never follows a redirect (requests would send PRIVATE-TOKEN to another host), gives up
    on a silent server, and retries only what is safe to retry."""
    session = requests.Session()
    session.max_redirects = 0
    return gitlab.Gitlab(server_url(env), private_token=token, session=session, timeout=TIMEOUT_SECONDS)


def _pages(client: gitlab.Gitlab, path: str) -> Iterator[list[dict[str, Any]]]:
    """Every page of a list, following X-Next-Page when the server sends it, else while pages are full (some
    servers send no pagination headers; some cap the page size below what was asked)."""
    page = 1
    for _ in range(MAX_PAGES):
        response = client.http_request("get", path, query_data={"page": page, "per_page": PER_PAGE}, max_retries=3)
        items = response.json()
        if not isinstance(items, list):
            raise gitlab.exceptions.GitlabParsingError(error_message="the notes are not a list")
        yield items
        following = response.headers.get("X-Next-Page", "")
        if following.isdigit():
            page = int(following)
        elif len(items) >= PER_PAGE:
            page += 1
        else:
            return


def post(env: Mapping[str, str], text: str, where: str = "the pipeline's artifacts") -> tuple[str, int]:
    """Create or update the note; returns ("created" or "updated", the note's id)."""
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise UsageError(f"{TOKEN_ENV} is not set (a project access token with the api scope; masked)")
    client = _client(env, token)
    project = env.get("CI_MERGE_REQUEST_PROJECT_ID", "").strip() or _required(env, "CI_PROJECT_ID")
    path = f"/projects/{project}/merge_requests/{_required(env, 'CI_MERGE_REQUEST_IID')}/notes"
    client.auth()  # who the token is: only its own note is ever edited, never one a person wrote the marker into
    me = client.user.id if client.user is not None else None
    body = note_body(text, where)
    for notes in _pages(client, path):
        for note in notes:
            mine = (note.get("author") or {}).get("id") == me
            if MARKER in str(note.get("body") or "") and not note.get("system") and mine:
                client.http_put(f"{path}/{note['id']}", post_data={"body": body}, max_retries=3)
                return "updated", int(note["id"])
    # Never retried: a POST that reached GitLab before a proxy failed would leave two notes.
    created = client.http_post(path, post_data={"body": body}, retry_transient_errors=False)
    return "created", int(created["id"]) if isinstance(created, dict) else 0


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """The command; what it prints may quote GitLab's answers: control characters are escaped (safe_text)."""
    with escaped_output():
        return _main(argv, env)


def _main(argv: Sequence[str] | None, env: Mapping[str, str] | None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.ops.mr_note", description=__doc__.split("\n\n")[0])
    parser.add_argument("--body-file", required=True, type=Path, help="the note's text (Markdown)")
    parser.add_argument(
        "--full-report",
        default="the pipeline's artifacts",
        metavar="WHERE",
        help="where the full report is, named in a note that had to be summarized (e.g. a CI artifact path)",
    )
    args = parser.parse_args(argv)
    environment = os.environ if env is None else env
    try:
        text = args.body_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read --body-file {args.body_file} as UTF-8 text ({type(exc).__name__})", file=sys.stderr)
        return EXIT_USAGE
    try:
        done, note_id = post(environment, text, args.full_report)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except gitlab.exceptions.GitlabError as exc:
        code = exc.response_code or "no response"
        print(
            f"error: GitLab refused the note (HTTP {code}): {_message(str(exc.error_message or exc), environment)}",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    except (requests.RequestException, ValueError) as exc:
        # No answer, a redirect (never followed), an unreadable answer or rate-limit header.
        print(
            f"error: no usable answer from GitLab: {_message(type(exc).__name__ + ': ' + str(exc), environment)}",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    print(f"runner-fleet note {done} (note {note_id})")
    return 0


def _message(message: str, env: Mapping[str, str]) -> str:
    """A message on one line, the token redacted (even if a proxy echoed it) before it is cut."""
    token = env.get(TOKEN_ENV, "").strip()
    clean = message.replace(token, REDACTED) if token else message
    return one_line(clean)[:300]


if __name__ == "__main__":
    sys.exit(main())
