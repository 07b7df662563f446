"""components.ops.verify against a local fake GitLab: exactly the runners that are wrong, and why; never the token."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.conftest import ROOT
from tests.fleets import fleet, write_stack
from tests.ops.fake_gitlab import FakeGitLab, serve

TOKEN = "glpat-VerifyTokenNeverPrinted"
FLEET = fleet(
    hosts={"edge": {"docker": {"host": "ssh://ci@edge.acme.test"}}},
    runners={
        "fine": {"host": "edge", "scope": {"group": "acme"}, "tags": ["a", "b"]},
        "paused": {"host": "edge", "scope": {"group": "acme"}, "tags": ["p"]},
        "silent": {"host": "edge", "scope": {"project": 7}, "tags": ["s"], "protectedOnly": True},
    },
)
IDS = {"fine": 11, "paused": "12", "silent": 13}


def _runner(tags: list[str], *, paused: bool = False, protected: bool = False) -> dict[str, Any]:
    return {"tag_list": tags, "paused": paused, "access_level": "ref_protected" if protected else "not_protected"}


def _manager(status: str = "online", version: str = "19.3.0", age: timedelta = timedelta(minutes=2)) -> dict[str, Any]:
    contacted = (datetime.now(UTC) - age).isoformat().replace("+00:00", "Z")
    return {"system_id": "s_abcdefabcdef", "status": status, "version": version, "contacted_at": contacted}


def _fake(healthy: bool) -> FakeGitLab:
    return FakeGitLab(
        runners={
            "11": _runner(["b", "a"]),
            "12": _runner(["p"], paused=not healthy),
            "13": _runner(["s"], protected=True),
        },
        managers={
            "11": [_manager()],
            "12": [_manager()],
            "13": [_manager()] if healthy else [{"status": "never_contacted", "version": None, "contacted_at": None}],
        },
    )


def _verify(
    fake: FakeGitLab, tmp: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    stack = write_stack(tmp, FLEET, "test", {"gitlab:baseUrl": f"{fake.url}/api/v4/"})
    outputs = tmp / "outputs.json"
    outputs.write_text(json.dumps({"runnerIds": IDS, "managers": {"edge": "gitlab-runner-test-edge"}}))
    return subprocess.run(
        [sys.executable, "-m", "components.ops.verify", "--stack-file", str(stack), "--outputs", str(outputs), *extra],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "GITLAB_TOKEN": TOKEN, **(env or {})},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_two_wrong_runners_are_named_with_what_is_wrong(tmp_path: Path) -> None:
    with serve(_fake(healthy=False)) as fake:
        done = _verify(fake, tmp_path, "--timeout", "0")
    assert done.returncode == 1, done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert lines["fine"].split()[2] == "ok"
    assert "paused, declared active" in lines["paused"]
    assert "no manager online" in lines["silent"] and "never_contacted" in lines["silent"]
    assert TOKEN not in done.stdout + done.stderr
    assert all(h.get("PRIVATE-TOKEN") == TOKEN for _, _, h in fake.requests)


def test_a_healthy_fleet_passes(tmp_path: Path) -> None:
    with serve(_fake(healthy=True)) as fake:
        done = _verify(fake, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[2] for line in done.stdout.splitlines()[1:]] == ["ok", "ok", "ok"]


def test_it_waits_while_a_manager_comes_up_then_says_so(tmp_path: Path) -> None:
    fake = _fake(healthy=True)
    fake.managers["13"] = [_manager(version="19.2.0")]  # the old manager, mid-rollout
    with serve(fake) as served:
        done = _verify(served, tmp_path, "--timeout", "6")
    assert done.returncode == 1
    assert "waiting for 1 runner(s)" in done.stderr and "manager version 19.2.0, expected 19.3.0" in done.stdout


def test_a_stale_manager_is_not_online(tmp_path: Path) -> None:
    fake = _fake(healthy=True)
    fake.managers["11"] = [_manager(age=timedelta(hours=3))]
    with serve(fake) as served:
        done = _verify(served, tmp_path, "--timeout", "0")
    assert done.returncode == 1 and "no manager online" in done.stdout


def test_missing_outputs_or_token_is_exit_2(tmp_path: Path) -> None:
    with serve(_fake(healthy=True)) as fake:
        done = _verify(fake, tmp_path, env={"GITLAB_TOKEN": ""})
    assert done.returncode == 2 and "GITLAB_TOKEN" in done.stderr


def test_ci_server_url_answers_when_the_stack_s_url_does_not(tmp_path: Path) -> None:
    values = dict(FLEET, gitlabUrl="http://127.0.0.1:9")  # nothing listens on the discard port
    stack = write_stack(tmp_path, values, "test")
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"runnerIds": IDS}))
    with serve(_fake(healthy=True)) as fake:
        done = subprocess.run(
            [sys.executable, "-m", "components.ops.verify", "--stack-file", str(stack), "--outputs", str(outputs)],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin", "GITLAB_TOKEN": TOKEN, "CI_SERVER_URL": fake.url},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr


def test_odd_answers_are_rows_not_tracebacks(tmp_path: Path) -> None:
    fake = _fake(healthy=True)
    fake.managers["11"] = [_manager() | {"contacted_at": "2099-01-01T00:00:00.123456", "version": "v19.3.0"}]
    del fake.runners["12"]  # deleted outside Pulumi
    fake.managers["13"] = [_manager(version="19.3.10")]  # not 19.3.0, although it starts the same
    with serve(fake) as served:
        done = _verify(served, tmp_path, "--timeout", "0")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    lines = {line.split()[0]: line for line in done.stdout.splitlines()[1:]}
    assert lines["fine"].split()[2] == "ok", "a timestamp without a zone is UTC"
    assert "runner 12 not found" in lines["paused"]
    assert "manager version 19.3.10, expected 19.3.0" in lines["silent"]
