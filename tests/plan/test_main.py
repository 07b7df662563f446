"""python -m components.plan: files written, exit codes, problems on stderr, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.plan.__main__ import main
from tests.conftest import ROOT
from tests.fleets import fleet, write_stack


def _run_plan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "components.plan", *args], cwd=ROOT, capture_output=True, text=True, timeout=120
    )


def test_plan_command_writes_the_plan(tmp_path: Path) -> None:
    out = tmp_path / "plan"
    done = _run_plan("--stack-file", "stacks/Pulumi.dev.yaml", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "runner-fleet:fleet:RunnerFleet  fleet" in (out / "tree.txt").read_text().splitlines()[0]
    assert f"the resource tree: {out}/tree.txt" in done.stdout
    document = json.loads((out / "plan.json").read_text())
    assert document["stack"] == "dev"
    for res in document["resources"]:
        assert {"type", "name", "parent", "inputs", "options"} <= set(res)
        assert "protect" in res["options"]
    assert (out / "hosts" / "build-1" / "config.toml").is_file()
    build = document["hosts"]["build-1"]
    (manager,) = [r for r in document["resources"] if r["name"] == "host-build-1-manager"]
    generation = {x["label"]: x["value"] for x in manager["inputs"]["labels"]}["runner-fleet.io/generation"]
    assert manager["inputs"]["name"] == f"gitlab-runner-dev-build-1-{generation}"
    assert manager["options"]["deleteBeforeReplace"] is False, "a new generation is created before the old drains"
    assert build["executor"] == "docker" and build["manager"] == f"container gitlab-runner-dev-build-1-{generation}"
    assert build["runners"] == {"dev-images": {"buildkit": True}, "dev-tests": {"buildkit": False}}
    assert build["drainSeconds"] >= 3600
    assert f"host build-1: docker manager container gitlab-runner-dev-build-1-{generation}" in done.stdout
    assert "Traceback" not in done.stderr


BROKEN: list[tuple[str, Any, list[str]]] = [
    (
        "unknown host and typo",
        {"runners": {"x": {"host": "edge-9", "scope": {"instance": True}, "tagz": []}}},
        ["runners.x.host:", "runners.x.tagz:"],
    ),
    ("bad docker URL", {"hosts": {"edge-1": {"docker": {"host": "http://edge-1"}}}}, ["hosts.edge-1.docker.host:"]),
    (
        "scope and concurrent",
        {
            "hosts": {"edge-1": {"docker": {"host": "ssh://a@b"}, "concurrent": 0}},
            "runners": {"y": {"host": "edge-1", "scope": {"group": 1, "project": 1}, "tags": ["t"]}},
        },
        ["hosts.edge-1.concurrent:", "runners.y.scope:"],
    ),
]


@pytest.mark.parametrize(("case", "override", "keys"), BROKEN, ids=[b[0] for b in BROKEN])
def test_plan_command_rejects_broken_stacks(
    tmp_path: Path, case: str, override: dict[str, Any], keys: list[str]
) -> None:
    stack_file = write_stack(tmp_path, fleet(**override))
    done = _run_plan("--stack-file", str(stack_file), "--out", str(tmp_path / "plan"))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    for key in keys:
        assert any(line.startswith(key) for line in lines), (key, lines)
    assert not (tmp_path / "plan").exists(), "nothing is written for an invalid stack"


@pytest.mark.parametrize("content", ["config: [1, 2", "- just\n- a list\n", ""])
def test_plan_command_survives_unreadable_files(tmp_path: Path, content: str) -> None:
    path = tmp_path / "Pulumi.bad.yaml"
    path.write_text(content)
    done = _run_plan("--stack-file", str(path), "--out", str(tmp_path / "plan"))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip()


def test_missing_stack_file(tmp_path: Path) -> None:
    done = _run_plan("--stack-file", str(tmp_path / "Pulumi.nope.yaml"), "--out", str(tmp_path / "plan"))
    assert done.returncode == 2 and "cannot read" in done.stderr and "Traceback" not in done.stderr


def test_a_wrong_project_prefix_is_named(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.dev.yaml"
    config = {f"gitlab-runners:{k}": v for k, v in fleet().items()}
    path.write_text(yaml.safe_dump({"config": config}))
    done = _run_plan("--stack-file", str(path), "--out", str(tmp_path / "plan"))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert "Stack 'dev' is missing configuration values 'gitlabUrl', 'hosts' and 'runners'" in lines
    assert "gitlab-runners:hosts: not in this project's namespace; write it as 'runner-fleet:hosts'" in lines


def test_out_is_replaced_only_when_it_holds_a_plan(tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    done = _run_plan("--stack-file", "stacks/Pulumi.dev.yaml", "--out", str(precious))
    assert done.returncode == 2 and "refusing to replace it" in done.stderr
    assert (precious / "notes.txt").read_text() == "keep me"
    out = tmp_path / "plan"
    assert _run_plan("--stack-file", "stacks/Pulumi.dev.yaml", "--out", str(out)).returncode == 0
    (out / "stale.txt").write_text("from an earlier run")
    assert _run_plan("--stack-file", "stacks/Pulumi.prod.yaml", "--out", str(out)).returncode == 0
    assert not (out / "stale.txt").exists() and json.loads((out / "plan.json").read_text())["stack"] == "prod"


def test_help_lists_the_exit_statuses() -> None:
    done = _run_plan("--help")
    assert done.returncode == 0
    for line in ("0  planned", "2  the stack file is invalid", "1  the program failed"):
        assert line in done.stdout


def test_a_production_stack_weaker_than_the_rules_exits_3_naming_each_violation(tmp_path: Path) -> None:
    values = fleet(tier="production")
    values["runners"]["unit"]["image"] = "alpine:latest"  # default job image not pinned
    values["runners"]["shared"]["protectedOnly"] = False  # open to unprotected refs
    out = tmp_path / "plan"
    done = _run_plan("--stack-file", str(write_stack(tmp_path, values)), "--out", str(out))
    assert done.returncode == 3, done.stderr
    lines = done.stderr.splitlines()
    assert any(line.startswith("error: policy images-pinned:") and "alpine:latest" in line for line in lines), lines
    assert any(line.startswith("error: policy production-protected-refs-only: runner-shared:") for line in lines), lines
    document = json.loads((out / "plan.json").read_text())
    assert {p["rule"] for p in document["policies"] if p["mandatory"]} >= {
        "images-pinned",
        "production-protected-refs-only",
    }


def test_a_relaxation_in_extra_config_exits_2_naming_its_key(tmp_path: Path) -> None:
    values = fleet(tier="production")
    values["runners"]["unit"]["extraConfig"] = '[docker]\nsecurity_opt = ["apparmor=unconfined"]\n'
    done = _run_plan("--stack-file", str(write_stack(tmp_path, values)), "--out", str(tmp_path / "plan"))
    assert done.returncode == 2
    assert any(
        line.startswith("runners.unit.extraConfig.docker.security_opt: not allowed")
        for line in done.stderr.splitlines()
    )


def test_a_compare_base_that_only_looks_like_a_plan_ends_with_exit_2_and_no_impact_report(tmp_path: Path) -> None:
    base = tmp_path / "base"
    base.mkdir()
    broken = {"stack": "test", "hosts": {"cluster": 5}, "resources": [{"type": "x", "name": "n", "urn": "u"}]}
    (base / "plan.json").write_text(json.dumps(broken))
    stack_file = write_stack(tmp_path, fleet())
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main(["--stack-file", str(stack_file), "--out", str(tmp_path / "out"), "--compare", str(base)])
    assert status == 2, err.getvalue()
    assert "does not hold what this command writes" in err.getvalue() and "Traceback" not in err.getvalue()
    assert not (tmp_path / "out" / "impact.json").exists()
