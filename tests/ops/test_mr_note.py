"""components.ops.mr_note against a local fake GitLab: one note per merge request, found across pages."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from components.ops import mr_note
from components.plan import impact_report
from tests.conftest import ROOT
from tests.ops.fake_gitlab import FakeGitLab, serve

TOKEN = "glpat-NoteTokenThatMustNeverBePrinted"


def _env(fake: FakeGitLab) -> dict[str, str]:
    return {
        "CI_SERVER_URL": fake.url,
        "CI_PROJECT_ID": "42",
        "CI_MERGE_REQUEST_IID": "7",
        mr_note.TOKEN_ENV: TOKEN,
    }


def _run(fake: FakeGitLab, body: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components.ops.mr_note", "--body-file", str(body)],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **_env(fake), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("link_headers", [True, False], ids=["pagination headers", "no pagination headers"])
def test_the_note_is_created_once_then_updated_in_place_across_pages(tmp_path: Path, link_headers: bool) -> None:
    others = [
        {"id": i, "body": f"review comment {i}", "system": i % 3 == 0, "author": {"id": 2}} for i in range(1, 251)
    ]
    body = tmp_path / "note.md"
    with serve(FakeGitLab(notes=list(others), link_headers=link_headers)) as fake:
        body.write_text("### impact\nhost edge-1: reload\n")
        first = _run(fake, body)
        assert first.returncode == 0, first.stderr
        assert "created" in first.stdout
        body.write_text("### impact\nhost edge-1: drain\n")
        second = _run(fake, body)
        assert second.returncode == 0, second.stderr
        assert "updated" in second.stdout
        mine = [n for n in fake.notes if mr_note.MARKER in n["body"]]
        assert len(mine) == 1 and "drain" in mine[0]["body"] and "reload" not in mine[0]["body"]
        assert len(fake.notes) == 251
        methods = [m for m, path, _ in fake.requests if "/notes" in path]
        assert methods.count("POST") == 1 and methods.count("PUT") == 1
        # The second run read every page before deciding (the note was on the last one).
        assert methods.count("GET") >= 2 * 3
        for _, _, headers in fake.requests:
            assert headers.get("PRIVATE-TOKEN") == TOKEN
        for output in (first.stdout, first.stderr, second.stdout, second.stderr):
            assert TOKEN not in output


def test_an_http_error_is_one_clear_line_without_the_token(tmp_path: Path) -> None:
    body = tmp_path / "note.md"
    body.write_text("x")
    with serve(FakeGitLab(fail_with=403)) as fake:
        done = _run(fake, body)
    assert done.returncode == 1
    assert "GitLab refused the note (HTTP 403)" in done.stderr and "Traceback" not in done.stderr
    assert TOKEN not in done.stdout + done.stderr


@pytest.mark.parametrize("missing", [mr_note.TOKEN_ENV, "CI_MERGE_REQUEST_IID", "CI_SERVER_URL"])
def test_a_missing_variable_is_named(tmp_path: Path, missing: str) -> None:
    body = tmp_path / "note.md"
    body.write_text("x")
    with serve(FakeGitLab()) as fake:
        done = _run(fake, body, **{missing: ""})
    assert done.returncode == 2 and missing in done.stderr and not fake.requests


def test_ci_api_v4_url_works_too_and_a_huge_body_is_cut(tmp_path: Path) -> None:
    body = tmp_path / "note.md"
    body.write_text("a" * (mr_note.MAX_BODY + 10))
    with serve(FakeGitLab()) as fake:
        done = _run(fake, body, CI_SERVER_URL="", CI_API_V4_URL=f"{fake.url}/api/v4")
        assert done.returncode == 0, done.stderr
        (note,) = fake.notes
    assert len(note["body"]) <= mr_note.MAX_BODY and note["body"].startswith(mr_note.MARKER)


def test_a_marker_someone_else_wrote_is_left_alone(tmp_path: Path) -> None:
    forged = {"id": 5, "body": f"{mr_note.MARKER}\nlooks like the bot's", "system": False, "author": {"id": 77}}
    body = tmp_path / "note.md"
    body.write_text("the real report")
    with serve(FakeGitLab(notes=[forged])) as fake:
        done = _run(fake, body)
    assert done.returncode == 0 and "created" in done.stdout
    assert fake.notes[0]["body"].endswith("looks like the bot's") and "the real report" in fake.notes[1]["body"]


def test_a_redirect_is_never_followed_with_the_token(tmp_path: Path) -> None:
    body = tmp_path / "note.md"
    body.write_text("x")
    with serve(FakeGitLab()) as elsewhere, serve(FakeGitLab(redirect_to=elsewhere.url)) as fake:
        done = _run(fake, body)
    assert done.returncode == 1 and "no usable answer from GitLab" in done.stderr
    assert not elsewhere.requests, "the token never reached another host"
    assert TOKEN not in done.stdout + done.stderr


def test_a_long_error_message_is_redacted_before_it_is_cut(tmp_path: Path) -> None:
    assert mr_note._message("x" * 285 + TOKEN, {mr_note.TOKEN_ENV: TOKEN}).endswith("[secret]")


def test_a_body_that_is_not_utf8_is_exit_2(tmp_path: Path) -> None:
    body = tmp_path / "note.md"
    body.write_bytes(b"\xff\xfe\x00bad")
    with serve(FakeGitLab()) as fake:
        done = _run(fake, body)
    assert done.returncode == 2 and "UTF-8" in done.stderr and "Traceback" not in done.stderr


def _large_impact(hosts: int) -> str:
    """impact.md as the plan writes it for a change that touches every host of a large fleet."""
    diff = {
        "diff": ["--- a", "+++ b", "@@ -1 +1 @@", "-limit = 2", "+limit = 3"] * 20,
        "hidden": [],
        "unreadable": False,
    }
    entry = {
        "effect": "reload",
        "drainSeconds": 0,
        "why": "config.toml changes; the running manager reloads it, no job is touched",
        "names": {"replaced": [], "deleted": [], "created": [], "updated": []},
        "configDiff": diff,
    }
    found = {"resources": [], "hosts": {f"h{i}": entry for i in range(hosts)}, "runners": {}}
    return impact_report.markdown(found, "prod")


def test_a_large_report_is_summarized_under_the_limit_and_says_where_the_full_one_is(tmp_path: Path) -> None:
    text = _large_impact(3000)
    assert len(text) > mr_note.MAX_BODY, "the full report alone is beyond GitLab's limit"
    body = tmp_path / "note.md"
    body.write_text(text)
    where = "plan/mr/prod/impact.md in the artifacts of the impact job"
    with serve(FakeGitLab()) as fake:
        done = subprocess.run(
            [sys.executable, "-m", "components.ops.mr_note", "--body-file", str(body), "--full-report", where],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", **_env(fake)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        (note,) = fake.notes
    assert len(note["body"]) <= mr_note.NOTE_BUDGET < mr_note.MAX_BODY
    assert where in note["body"] and note["body"].count("```") % 2 == 0
    assert note["body"].splitlines()[1] == "### runner-fleet `prod`: what this change does"


def test_a_report_that_fits_is_posted_whole_with_its_diff(tmp_path: Path) -> None:
    text = _large_impact(3)
    assert mr_note.note_body(text) == f"{mr_note.MARKER}\n{text.strip()}\n" and "```diff" in text
