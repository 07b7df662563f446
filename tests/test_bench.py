"""The benchmark's harness works (a tiny fleet): figures are measured in `make bench`, never asserted here."""

from __future__ import annotations

from pathlib import Path

from bench import fleets
from bench.__main__ import _floor_body, measure
from components.plan import engine
from components.plan.stack_file import read_stack_file
from tests.fleets import write_stack


def test_the_benchmark_measures_a_small_fleet_and_its_floor(tmp_path: Path) -> None:
    row = measure(10, tmp_path)
    assert row["runners"] == 10 and row["resources"] > 10 and row["lookups"] > 0
    assert set(row["seconds"]) == {"program", "floor", "floor_no_gc", "plan", "plan_compare", "command"}
    assert row["requests"]["providers"]["gitlab"] == 1 and row["requests"]["repeatedLookups"] == 0
    assert all(seconds > 0 for seconds in row["seconds"].values()) and row["peak_mib"] > 0


def test_the_synthetic_fleets_have_the_promised_shape() -> None:
    values = fleets.fleet(100)
    assert len(values["runners"]) == 100 and len(values["hosts"]) == 10 and len(values["variables"]) == 200
    kinds = [next(iter(h)) for h in values["hosts"].values()]
    assert kinds.count("kubernetes") == len(kinds) // 4
    assert len(fleets.changed(values)["runners"]) == 101


def test_the_floor_declares_exactly_what_the_program_declared(tmp_path: Path) -> None:
    """Same URNs, types, parents, inputs and engine options; the same lookups: only the component code is gone."""
    recorded = engine.run(read_stack_file(write_stack(tmp_path, fleets.fleet(40), "bench")))
    floor = engine.run_function(_floor_body(recorded), stack="bench")
    program = {r.urn: (r.type, r.parent, r.inputs, r.options) for r in recorded.resources}
    assert {r.urn: (r.type, r.parent, r.inputs, r.options) for r in floor.resources} == program
    assert floor.invokes == recorded.invokes
