"""plan.engine: the one mock-engine harness records what the engine receives."""

from __future__ import annotations

import gc
from pathlib import Path

from components.plan import engine
from components.plan.stack_file import read_stack_file
from tests.conftest import Plan
from tests.fleets import K8S_MIXED, fleet, write_stack


def test_the_harness_records_what_the_engine_receives(plan: Plan) -> None:
    """The mock engine is the engine for every test: resources arrive with parents, options and secrets wrapped."""
    result = plan(K8S_MIXED)
    urns = {r.urn for r in result.resources}
    (fleet,) = [r for r in result.resources if r.type == "runner-fleet:fleet:RunnerFleet"]
    assert all(r.parent in urns for r in result.resources if r is not fleet)
    secrets = [r for r in result.resources if r.type == "kubernetes:core/v1:Secret"]
    assert secrets and all(engine.is_secret(r.inputs["stringData"]) for r in secrets)


def test_the_program_runs_without_the_cyclic_collector_and_the_harness_turns_it_back_on(tmp_path: Path) -> None:
    """__main__.py turns automatic collection off for its run (README "Performance"); whoever ran it gets the
    collector back as it was."""
    seen: list[bool] = []
    original = engine.runpy.run_path

    def spy(path: str, run_name: str) -> dict[str, object]:
        found = original(path, run_name=run_name)
        seen.append(gc.isenabled())
        return found

    assert gc.isenabled()
    engine.runpy.run_path = spy  # type: ignore[assignment]
    try:
        engine.run(read_stack_file(write_stack(tmp_path, fleet())))
    finally:
        engine.runpy.run_path = original
    assert seen == [False], "off while the program declares"
    assert gc.isenabled(), "back on for the caller"
    gc.disable()
    try:
        engine.run(read_stack_file(write_stack(tmp_path, fleet())))
        assert not gc.isenabled(), "a caller that had it off keeps it off"
    finally:
        gc.enable()
