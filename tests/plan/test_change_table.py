"""The README's "What a change does to running jobs" table, row by row: each change made in a fleet with a Docker
and a Kubernetes host, planned before and after, and the impact report and the plan checked against the row."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from components.plan import impact
from components.plan.__main__ import main
from tests.conftest import ROOT
from tests.fleets import fleet, write_stack

BASE = fleet(
    hosts={
        "edge": {"docker": {"host": "ssh://ci@edge.acme.test"}},
        "eu": {"kubernetes": {"context": "eu-1", "namespace": "runners"}},
    },
    runners={
        "d-images": {
            "host": "edge",
            "scope": {"group": "acme"},
            "tags": ["buildkit"],
            "buildkit": True,
            "maximumTimeout": 7200,
        },
        "d-tests": {"host": "edge", "scope": {"project": 77}, "tags": ["tests"]},
        "k-images": {"host": "eu", "scope": {"group": "acme"}, "tags": ["k-buildkit"], "buildkit": True},
        "k-tests": {"host": "eu", "scope": {"project": 77}, "tags": ["k-tests"], "maximumTimeout": 1800},
    },
)
Edit = Callable[[dict[str, Any]], None]


def _runners(*keys: str, **settings: Any) -> Edit:
    def edit(values: dict[str, Any]) -> None:
        for key in keys:
            values["runners"][key].update(copy.deepcopy(settings))

    return edit


def _add(values: dict[str, Any]) -> None:
    values["runners"]["d-new"] = {"host": "edge", "scope": {"group": "acme"}, "tags": ["new"]}
    values["runners"]["k-new"] = {"host": "eu", "scope": {"group": "acme"}, "tags": ["k-new"]}


def _remove(values: dict[str, Any]) -> None:
    del values["runners"]["d-tests"], values["runners"]["k-tests"]


def _config(values: dict[str, Any]) -> None:
    values["runners"]["d-tests"]["limit"] = 3
    values["hosts"]["eu"]["concurrent"] = 9


def _managers(values: dict[str, Any]) -> None:
    for host in ("edge", "eu"):
        values["hosts"][host]["runnerImage"] = "gitlab/gitlab-runner:alpine-v19.4.0"


# (README row, the change, moment before/after, expected host effects, expected runner effects)
ROWS: list[tuple[str, Edit, dict[str, str], dict[str, str]]] = [
    ("a runner added", _add, {"edge": "reload", "eu": "roll"}, {"d-new": "added", "k-new": "added"}),
    ("a runner removed", _remove, {"edge": "reload", "eu": "roll"}, {"d-tests": "removed", "k-tests": "removed"}),
    (
        "`limit`, `concurrent`, `extraConfig`, `cache`, `registryAuth`, `gitlabCaBundle` (anything in config.toml)",
        _config,
        {"edge": "reload", "eu": "roll"},
        {},
    ),
    (
        "a runner's `maximumTimeout`",
        _runners("d-images", "k-images", maximumTimeout=9000),
        {"edge": "none", "eu": "roll"},
        {"d-images": "update", "k-images": "update"},
    ),
    (
        "tags, `paused`, `protectedOnly`, `runUntagged`, `locked`",
        _runners("d-tests", "k-tests", tags=["other"], paused=True),
        {"edge": "none", "eu": "none"},
        {"d-tests": "update", "k-tests": "update"},
    ),
    (
        "a runner moved to another group or project",
        _runners("d-tests", "k-tests", scope={"project": 78}),
        {"edge": "reload", "eu": "roll"},
        {"d-tests": "new-token", "k-tests": "new-token"},
    ),
    ("`runnerImage`, `registryMirror`, `proxy`", _managers, {"edge": "drain", "eu": "roll"}, {}),
    (
        "a token rotation (a new generation)",
        _runners("d-tests", "k-tests", tokenRotationDays=2),
        {"edge": "reload", "eu": "roll"},
        {"d-tests": "new-token", "k-tests": "new-token"},
    ),
]
BEFORE, AFTER = "2027-01-01T23:00:00Z", "2027-01-02T00:10:00Z"  # a rotation generation begins between them


def _plan(tmp: Path, name: str, values: dict[str, Any], now: str, base: Path | None = None) -> Path:
    (tmp / name).mkdir()
    stack = write_stack(tmp / name, values, "test")
    out = tmp / name / "out"
    args = ["--stack-file", str(stack), "--out", str(out), "--now", now] + (["--compare", str(base)] if base else [])
    assert main(args) == 0
    return out


@pytest.mark.parametrize(("row", "edit", "hosts", "runners"), ROWS, ids=[r[0][:40] for r in ROWS])
def test_each_row_is_what_the_plan_and_the_impact_report_say(
    tmp_path: Path, row: str, edit: Edit, hosts: dict[str, str], runners: dict[str, str]
) -> None:
    before = copy.deepcopy(BASE)
    if "rotation" in row:  # rotating before and after: only the generation changes
        edit(before)
    after = copy.deepcopy(before)
    edit(after)
    base = _plan(tmp_path, "base", before, BEFORE)
    out = _plan(tmp_path, "new", after, AFTER, base)
    found = json.loads((out / "impact.json").read_text())
    assert {h: e["effect"] for h, e in found["hosts"].items()} == hosts, row
    assert {r: e["effect"] for r, e in found["runners"].items() if e["effect"] != "none"} == runners, row
    old, new = (json.loads((d / "plan.json").read_text()) for d in (base, out))
    manager = next(r for r in new["resources"] if r["name"] == "host-edge-manager")
    was = next(r for r in old["resources"] if r["name"] == "host-edge-manager")
    forced = impact.forced_by(manager["type"], was, manager)
    # The plan agrees: a Docker manager is replaced exactly when the row says drain, never for a runner change.
    assert bool(forced) == (hosts["edge"] == "drain"), (row, forced)
    if hosts["edge"] == "drain":
        assert found["hosts"]["edge"]["drainSeconds"] == was["inputs"]["destroyGraceSeconds"] == 7260
        # ... and its successor takes jobs while it drains: the host never has fewer than one manager.
        assert found["hosts"]["edge"]["capacity"]["lowest"] == 1, found["hosts"]["edge"]["capacity"]
    if hosts["eu"] == "roll":
        assert found["hosts"]["eu"]["drainSeconds"] >= 1860


def test_the_readme_table_is_these_rows() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## What a change does to running jobs", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ")[0].removeprefix("| ") for line in section.splitlines() if line.startswith("| ")]
    assert rows[1:] == [row for row, *_ in ROWS]
