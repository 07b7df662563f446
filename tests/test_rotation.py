"""Token rotation without a lost job: the invariants, at every moment across two rotation periods, for what the
program declares (tested once through the real program at the moments that matter, then at many moments through
the same pure decision the registration component declares from)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from components import rotation
from components.plan.__main__ import main
from components.spec import SpecError, parse_spec
from tests.conftest import Plan
from tests.fleets import fleet, write_stack
from tests.harness import of_type

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
    config = (new / "hosts" / "edge-2" / "config.toml").read_text()
    assert 'name = "test-docs"' in config and 'name = "test-docs-retiring"' in config


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
