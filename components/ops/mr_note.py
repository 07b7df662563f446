"""Post or update the one runner-fleet note on a merge request.

    python -m components.ops.mr_note --body-file note.md

Runs in a merge-request pipeline: GitLab's predefined variables say where (`CI_SERVER_URL`, or `CI_API_V4_URL`;
`CI_PROJECT_ID`; `CI_MERGE_REQUEST_IID`), and `RUNNER_FLEET_NOTE_TOKEN` holds a project access token with the
`api` scope and at least the Reporter role (the job token cannot write notes; keep the variable masked). The
note carries a hidden marker; the command finds it across every page of notes and edits it, so a merge request
has exactly one runner-fleet note however often the pipeline runs. Exit 0 when posted, 1 when GitLab refuses
(its status and message, never the token), 2 when the environment or the body file is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import gitlab
import gitlab.exceptions

from components.model import REDACTED

MARKER = "<!-- runner-fleet:merge-request-note -->"
"""Hidden in the note's body: how the command finds its own note among all the others."""
TOKEN_ENV = "RUNNER_FLEET_NOTE_TOKEN"
MAX_BODY = 1_000_000
"""GitLab's limit for a note's text, in characters."""
EXIT_REFUSED, EXIT_USAGE = 1, 2
PER_PAGE, MAX_PAGES = 100, 1000


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


def note_body(text: str) -> str:
    """The note as posted: the marker, then the body, cut to GitLab's limit with a word that it was."""
    body = f"{MARKER}\n{text.strip()}\n"
    if len(body) > MAX_BODY:
        cut = "\n\n_(cut: the full report is in the pipeline's artifacts)_\n"
        body = body[: MAX_BODY - len(cut)] + cut
    return body


def post(env: Mapping[str, str], text: str) -> tuple[str, int]:
    """Create or update the note; returns ("created" or "updated", the note's id)."""
    token = env.get(TOKEN_ENV, "").strip()
    if not token:
        raise UsageError(f"{TOKEN_ENV} is not set (a project access token with the api scope; masked)")
    client = gitlab.Gitlab(server_url(env), private_token=token, retry_transient_errors=True, per_page=100)
    project = client.projects.get(_required(env, "CI_PROJECT_ID"), lazy=True)
    request = project.mergerequests.get(_required(env, "CI_MERGE_REQUEST_IID"), lazy=True)
    body = note_body(text)
    # Page by page until a short page, whatever pagination headers the server sends (Link, X-Next-Page, none).
    for page in range(1, MAX_PAGES + 1):
        notes = request.notes.list(page=page, per_page=PER_PAGE, get_all=False)
        for note in notes:
            if MARKER in (note.body or "") and not getattr(note, "system", False):
                note.body = body
                note.save()
                return "updated", int(note.id)
        if len(notes) < PER_PAGE:
            break
    created = request.notes.create({"body": body})
    return "created", int(created.id)


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.ops.mr_note", description=__doc__.split("\n\n")[0])
    parser.add_argument("--body-file", required=True, type=Path, help="the note's text (Markdown)")
    args = parser.parse_args(argv)
    environment = os.environ if env is None else env
    try:
        text = args.body_file.read_text()
        done, note_id = post(environment, text)
    except OSError as exc:
        print(f"error: cannot read --body-file {args.body_file}: {exc.strerror}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except gitlab.exceptions.GitlabError as exc:
        code = exc.response_code or "no response"
        print(f"error: GitLab refused the note (HTTP {code}): {_message(exc, environment)}", file=sys.stderr)
        return EXIT_REFUSED
    print(f"runner-fleet note {done} (note {note_id})")
    return 0


def _message(exc: gitlab.exceptions.GitlabError, env: Mapping[str, str]) -> str:
    """GitLab's message, one line, without the token even if a proxy echoed it."""
    message = str(exc.error_message or exc).replace("\n", " ")[:300]
    token = env.get(TOKEN_ENV, "").strip()
    return message.replace(token, REDACTED) if token else message


if __name__ == "__main__":
    sys.exit(main())
