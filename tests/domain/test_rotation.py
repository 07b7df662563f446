"""Token rotation without a lost job: the invariants, at every moment across two rotation periods, for what the
program declares (tested once through the real program at the moments that matter, then at many moments through
the same pure decision the registration component declares from)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components.domain import rotation
from components.plan.__main__ import main
from components.spec import SpecError, parse_spec
from tests.conftest import Plan
from tests.fleets import K8S_MIXED, fleet, write_stack
from tests.harness import named, of_type

DAYS = 2
# Runners with different longest jobs: the shortest pause bounds how often `pulumi up` must run.
ROTATING = fleet(tokenRotationDays=DAYS, protect=True)
ROTATING["runners"]["unit"]["tokenRotationDays"] = 0  # opts out
ROTATING["runners"]["release"]["tokenRotationDays"] = 1
EPOCH_DAY = datetime(2027, 1, 2, tzinfo=UTC)  # 20820 days after the epoch: a generation boundary of both periods


def _registrations(values: dict[str, Any], moment: datetime) -> dict[str, dict[str, rotation.Registration]]:
    """runner key -> registration name -> what the program declares at `moment`."""
    spec = parse_spec(values, stack="test", now=moment)
    return {
        r.key: {
            reg.name: reg
            for reg in rotation.registrations(f"runner-{r.key}", r.rotation, paused=r.paused, protect=spec.protect)
        }
        for r in spec.runners
    }


def _pauses(values: dict[str, Any]) -> dict[str, int]:
    return {r.key: r.pause_seconds for r in parse_spec(values, stack="test").runners}


def test_the_program_declares_what_the_decision_says(plan: Plan, tmp_path: Path) -> None:
    stack = write_stack(tmp_path, ROTATING, "prod-like")
    for moment in (EPOCH_DAY - timedelta(seconds=1), EPOCH_DAY, EPOCH_DAY + timedelta(hours=5)):
        out = tmp_path / moment.strftime("%H%M%S")
        assert main(["--stack-file", str(stack), "--out", str(out), "--now", moment.isoformat()]) == 0
        planned = json.loads((out / "plan.json").read_text())["runners"]
        expected = _registrations(ROTATING, moment)
        for key, regs in expected.items():
            declared = {r["name"]: (r["paused"], r["protect"]) for r in planned[key]["registrations"]}
            assert declared == {n: (r.paused, r.protect) for n, r in regs.items()}, (moment, key)


def test_at_a_generation_boundary_a_new_registration_starts_and_the_old_one_pauses_unprotected(
    plan: Plan,
) -> None:
    before, after = _registrations(ROTATING, EPOCH_DAY - timedelta(seconds=1)), _registrations(ROTATING, EPOCH_DAY)
    assert list(before["images"]) == ["runner-images-b"] and not before["images"]["runner-images-b"].paused
    assert set(after["images"]) == {"runner-images", "runner-images-b"}
    old, new = after["images"]["runner-images-b"], after["images"]["runner-images"]
    assert old.paused and old.retiring and not old.protect
    assert not new.paused and new.protect
    assert list(after["unit"]) == ["runner-unit"], "tokenRotationDays: 0 opts out"


def test_the_invariants_hold_at_every_moment_across_two_periods() -> None:
    """Moments closer together than the shortest pause (how often the schedule must run): a runner always has an
    active registration and never more than two; a registration goes only after it was paused (and unprotected)
    for longer than its longest job, as seen by the run before."""
    pauses = _pauses(ROTATING)
    step = min(pauses.values()) - 1
    start = EPOCH_DAY - timedelta(days=1)
    moments = [start + timedelta(seconds=s) for s in range(0, 2 * DAYS * 86400 + 2 * 86400, step)]
    paused_since: dict[tuple[str, str], datetime] = {}
    previous: dict[str, dict[str, rotation.Registration]] = {}
    rotations = 0
    for moment in moments:
        now = _registrations(ROTATING, moment)
        for key, regs in now.items():
            assert 1 <= len(regs) <= 2, (moment, key, regs)
            assert [r for r in regs.values() if not r.retiring], (moment, key, "no active registration")
            for name, reg in regs.items():
                if reg.paused and reg.retiring:
                    paused_since.setdefault((key, name), moment)
            for name, reg in previous.get(key, {}).items():
                if name not in regs:
                    since = paused_since.pop((key, name), None)
                    assert since is not None and reg.paused and not reg.protect, (moment, key, name)
                    assert (moment - since).total_seconds() >= pauses[key], (moment, key, name)
                    rotations += 1
        previous = now
    assert rotations >= 4, "both periods rotated several times (and each old registration went)"


def test_a_period_too_short_for_the_pause_is_refused() -> None:
    values = fleet(tokenRotationDays=1)
    values["runners"]["images"]["maximumTimeout"] = 50000
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    assert any(p.startswith("tokenRotationDays: 1 day(s) is too short") for p in caught.value.problems)


def test_a_rotation_touches_only_that_runner_and_its_host(plan: Plan, tmp_path: Path) -> None:
    values = fleet()
    values["runners"]["docs"]["tokenRotationDays"] = DAYS  # docs lives on edge-2
    stack = write_stack(tmp_path, values, "test")
    base, new = tmp_path / "base", tmp_path / "new"
    assert main(["--stack-file", str(stack), "--out", str(base), "--now", "2027-01-01T23:00:00Z"]) == 0
    assert (
        main(["--stack-file", str(stack), "--out", str(new), "--now", "2027-01-02T00:10:00Z", "--compare", str(base)])
        == 0
    )
    impact = json.loads((new / "impact.json").read_text())
    assert {k: v["effect"] for k, v in impact["runners"].items() if v["effect"] != "none"} == {"docs": "new-token"}
    assert {k: v["effect"] for k, v in impact["hosts"].items() if v["effect"] != "none"} == {"edge-2": "reload"}
    names = {s["name"] for s in impact["resources"]}
    assert names <= {"runner-docs", "runner-docs-b", "host-edge-2-config-writer", "host-edge-2-config-reloader"}
    # The manager polls the current registration only; the retiring one's running jobs finish on their own.
    config = (new / "hosts" / "edge-2" / "config.toml").read_text()
    assert config.count("[[runners]]") == 2 and 'name = "test-docs"' in config and "retiring" not in config


def test_the_plan_refuses_a_moment_that_is_not_utc(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path, fleet(), "test")
    with pytest.raises(SystemExit) as caught:
        main(["--stack-file", str(stack), "--out", str(tmp_path / "o"), "--now", "2027-01-02T00:00:00"])
    assert caught.value.code == 2 and "UTC" in capsys.readouterr().err


def test_the_active_registration_is_the_one_runner_ids_name(plan: Plan) -> None:
    with rotation.at(EPOCH_DAY):
        result = plan(ROTATING, stack="rotating-at-boundary")
    runners = {r.name: r for r in of_type(result, "gitlab:index/userRunner:UserRunner")}
    assert {"runner-images", "runner-images-b"} <= set(runners)
    assert runners["runner-images-b"].inputs["description"].endswith("(retiring)")


# The engine's rule (reference/provider-semantics.md, "Engine"): a resource protected in the state that the program
# no longer declares is not deleted: the engine refuses, and `pulumi up` fails.
def _refused(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Registrations the engine refuses to delete going from plan.json `before` to `after`."""
    now = {r["name"] for regs in after.values() for r in regs["registrations"]}
    return [
        r["name"] for regs in before.values() for r in regs["registrations"] if r["protect"] and r["name"] not in now
    ]


SCHEDULE = timedelta(minutes=30)  # ci/schedules.yml: the rotation schedule runs `pulumi up` every 30 minutes
SHORT_JOBS = fleet(tokenRotationDays=DAYS, protect=True)  # as a production stack has it
SHORT_JOBS["runners"]["unit"]["maximumTimeout"] = 600  # GitLab's minimum
SHORT_JOBS["runners"]["release"]["maximumTimeout"] = 1200


def test_a_protected_stack_rotates_whatever_the_schedule_phase(tmp_path: Path) -> None:
    """`pulumi up` every 30 minutes, the runs falling 25 minutes after each full hour: the run before a generation
    boundary declares the current registrations protected, so the first run after it must still declare them
    (unprotected) or the engine refuses to delete them, on that run and on every run until the slot comes round."""
    stack = write_stack(tmp_path, SHORT_JOBS, "prod-short")
    runs = [EPOCH_DAY - SCHEDULE + timedelta(minutes=25) + k * SCHEDULE for k in range(5)]
    planned = []
    for i, moment in enumerate(runs):
        out = tmp_path / f"run-{i}"
        assert main(["--stack-file", str(stack), "--out", str(out), "--now", moment.isoformat()]) == 0
        planned.append(json.loads((out / "plan.json").read_text())["runners"])
    assert all(r["protect"] for regs in planned[0].values() for r in regs["registrations"])
    for before, after, moment in zip(planned, planned[1:], runs[1:], strict=False):
        assert _refused(before, after) == [], moment
    assert {r["name"] for r in planned[-1]["unit"]["registrations"]} == {"runner-unit"}, "the old one went"


@pytest.mark.parametrize("phase_minutes", range(0, 30, 1))
def test_every_schedule_phase_leaves_no_protected_registration_behind(phase_minutes: int) -> None:
    """The same rule at every phase of a 30-minute schedule, through the decision the program declares from."""
    start = EPOCH_DAY - SCHEDULE + timedelta(minutes=phase_minutes)
    previous: dict[str, dict[str, rotation.Registration]] | None = None
    for moment in (start + k * SCHEDULE for k in range(8)):
        now = _registrations(SHORT_JOBS, moment)
        if previous is not None:
            gone = [n for key, regs in previous.items() for n, r in regs.items() if r.protect and n not in now[key]]
            assert gone == [], (moment, gone)
        previous = now


def _retiring_until(values: dict[str, Any], key: str, boundary: datetime) -> datetime:
    """The first moment after `boundary` at which runner `key`'s previous registration is no longer declared (the
    decision is declared, then not, within a generation: found by bisection to the second)."""
    low, high = 0, DAYS * 86400 - 1
    assert len(_registrations(values, boundary)[key]) == 2
    while high - low > 1:
        middle = (low + high) // 2
        if len(_registrations(values, boundary + timedelta(seconds=middle))[key]) == 2:
            low = middle
        else:
            high = middle
    return boundary + timedelta(seconds=high)


@pytest.mark.parametrize("key", ["unit", "release", "images", "docs"])
def test_no_run_removes_a_registration_while_a_job_it_started_may_still_run(key: str) -> None:
    """A job may run up to the runner's maximumTimeout (GitLab's one hour without it). The first run after a
    boundary comes at most 45 minutes after it (the 30-minute schedule, a run starting up to 15 minutes late: README
    "Token rotation") and takes the old registration out of use; any later run (the schedule or a deploy, at any
    moment) that no longer declares it removes it, with the jobs it still runs. So the old registration must stay
    declared until its longest job, counted from the latest such first run."""
    longest = timedelta(seconds=SHORT_JOBS["runners"][key].get("maximumTimeout", 3600))
    until = _retiring_until(SHORT_JOBS, key, EPOCH_DAY)
    for phase in range(0, 45 * 60 + 1, 60):
        first_run = EPOCH_DAY + timedelta(seconds=phase)
        assert len(_registrations(SHORT_JOBS, first_run)[key]) == 2, (key, phase, "the first run never saw it")
        assert until - first_run >= longest, (key, phase, until - first_run)


@pytest.mark.parametrize(
    ("values", "runner", "host", "config"),
    [
        (
            ROTATING,
            "images",
            "edge-1",
            {
                "host-edge-1-config-writer": "docker:index/container:Container",
                "host-edge-1-config-reloader": "docker:index/container:Container",
            },
        ),
        (
            fleet(hosts=K8S_MIXED["hosts"], runners=K8S_MIXED["runners"], tokenRotationDays=DAYS, protect=True),
            "eu-tests",
            "eu",
            {"host-eu-config": "kubernetes:core/v1:Secret", "host-eu-manager": "kubernetes:apps/v1:Deployment"},
        ),
    ],
)
def test_the_retiring_registration_is_paused_after_its_host_stops_using_it(
    plan: Plan, values: dict[str, Any], runner: str, host: str, config: dict[str, str]
) -> None:
    """In the run that starts a generation, the host's config.toml changes to the new token and the old registration
    is paused: the pause must wait for the new configuration (the Docker writer and reloader; the Kubernetes config
    Secret and the Deployment that rolls with it), so the manager never serves nothing but a paused runner."""
    with rotation.at(EPOCH_DAY):
        result = plan(values, stack=f"boundary-{host}")
    retiring = [
        r
        for r in of_type(result, "gitlab:index/userRunner:UserRunner")
        if r.inputs["description"].endswith("(retiring)")
    ]
    old = next(r for r in retiring if r.name.startswith(f"runner-{runner}-") or r.name == f"runner-{runner}")
    assert old.inputs["paused"] is True and old.options["protect"] is False
    after = set(old.options["dependsOn"])
    assert {name: named(result, name).type for name in config} == config and set(config) <= after, after
    host_component = named(result, f"host-{host}")
    assert all(named(result, name).parent == host_component.urn for name in after), "its own host's, nothing else"
    # Nothing waits for a retiring registration (its token feeds nothing): the order has no cycle.
    assert not [r.name for r in result.resources if {x.name for x in retiring} & set(r.options["dependsOn"])]
