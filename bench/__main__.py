"""`make bench` (`python -m bench`): the offline plan against its floor, per fleet size.

For each size: the real program under the mock engine (`engine.run`), the whole offline plan command (report
written, policies gated, and with `--compare` against a slightly changed fleet), and the *floor*: the very same
resources (types, names, parents, inputs, options) and lookups registered bare, with no component code, under the
same mock engine with the same imports. Runs are interleaved and each figure is the median of three; peak memory
is measured in a fresh process per size. Prints a table and writes bench/results/<date>.json.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pulumi

from bench.fleets import changed, fleet
from components.plan import engine
from components.plan.__main__ import main as plan_main
from components.plan.engine import PlanResult
from components.plan.stack_file import StackFile, read_stack_file
from tests.fleets import write_stack

ROOT = Path(__file__).resolve().parents[1]
SIZES = (10, 100, 500, 1000)
REPEAT = 3


def _floor_body(result: PlanResult) -> Callable[[], None]:
    """A program that registers exactly what `result` recorded, bare, and makes the same lookups."""
    records = sorted(result.resources, key=lambda r: r.urn.count("$"))  # parents before children
    invokes = list(result.invokes)

    def body() -> None:
        made: dict[str, pulumi.Resource] = {}
        for rec in records:
            parent = made.get(rec.parent)
            opts = pulumi.ResourceOptions(parent=parent, protect=rec.options.get("protect", False))
            if rec.custom:
                made[rec.urn] = pulumi.CustomResource(rec.type, rec.name, dict(rec.inputs), opts)
            else:
                made[rec.urn] = pulumi.ComponentResource(rec.type, rec.name, None, opts)
        for invoke in invokes:
            pulumi.runtime.invoke_output(invoke["token"], dict(invoke["args"]))  # as the program: never blocking

    return body


def _time(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def _peak_mib(size: int) -> float:
    """Peak RSS of a fresh process that plans the fleet (the program under the mock engine)."""
    code = (
        "import resource, sys, tempfile; from pathlib import Path\n"
        "from bench.fleets import fleet; from tests.fleets import write_stack\n"
        "from components.plan import engine; from components.plan.stack_file import read_stack_file\n"
        f"d = Path(tempfile.mkdtemp()); engine.run(read_stack_file(write_stack(d, fleet({size}), 'bench')))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return int(done.stdout.strip()) / 1024


def measure(size: int, work: Path) -> dict[str, Any]:
    values = fleet(size)
    base_file = write_stack(work / f"base-{size}", values, "bench") if (work / f"base-{size}").mkdir() is None else None
    new_file = (
        write_stack(work / f"new-{size}", changed(values), "bench") if (work / f"new-{size}").mkdir() is None else None
    )
    assert base_file is not None and new_file is not None
    stack: StackFile = read_stack_file(base_file)
    recorded = engine.run(stack)
    floor = _floor_body(recorded)
    base_out = work / f"out-base-{size}"
    assert plan_main(["--stack-file", str(base_file), "--out", str(base_out)]) == 0
    samples: dict[str, list[float]] = {"program": [], "floor": [], "plan": [], "plan_compare": []}
    for i in range(REPEAT):  # interleaved: noise hits every kind alike
        samples["floor"].append(_time(lambda: engine.run_function(floor, stack="bench")))
        samples["program"].append(_time(lambda: engine.run(stack)))
        plain = ["--stack-file", str(base_file), "--out", str(work / f"out-{size}-{i}")]
        samples["plan"].append(_time(lambda args=plain: plan_main(args)))
        compare = ["--stack-file", str(new_file), "--out", str(work / f"out-c-{size}-{i}"), "--compare", str(base_out)]
        samples["plan_compare"].append(_time(lambda args=compare: plan_main(args)))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    return {
        "runners": size,
        "resources": len(recorded.resources),
        "lookups": len(recorded.invokes),
        "seconds": {k: round(v, 3) for k, v in medians.items()},
        "program_vs_floor": round(medians["program"] / medians["floor"], 2),
        "plan_vs_floor": round(medians["plan"] / medians["floor"], 2),
        "compare_overhead": round(medians["plan_compare"] / medians["plan"] - 1, 3),
        "peak_mib": round(_peak_mib(size), 1),
    }


def main() -> int:
    sizes = [int(a) for a in sys.argv[1:]] or list(SIZES)
    rows = []
    with tempfile.TemporaryDirectory() as tmp, open("/dev/null", "w") as quiet:
        saved = sys.stdout, sys.stderr
        for size in sizes:
            sys.stdout = sys.stderr = quiet  # the plan command prints its tree
            try:
                rows.append(measure(size, Path(tmp)))
            finally:
                sys.stdout, sys.stderr = saved
            row = rows[-1]
            print(
                f"{row['runners']:>5} runners {row['resources']:>6} resources {row['lookups']:>4} lookups  "
                f"program {row['seconds']['program']:>7.2f} s  floor {row['seconds']['floor']:>7.2f} s  "
                f"plan {row['seconds']['plan']:>7.2f} s  ({row['program_vs_floor']}x / {row['plan_vs_floor']}x floor)  "
                f"--compare +{row['compare_overhead']:.0%}  peak {row['peak_mib']} MiB",
                flush=True,
            )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = last["seconds"]["plan"] / first["seconds"]["plan"]
        print(f"plan time {last['runners']} vs {first['runners']} runners: {growth:.1f}x")
    machine = {"cpus": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]}
    out = ROOT / "bench" / "results" / f"{datetime.now(UTC):%Y-%m-%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
