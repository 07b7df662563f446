"""`make bench` (`python -m bench`): the offline plan against its floor, per fleet size (bench/README.md).

For each size: the real program under the mock engine (`engine.run`), the whole offline plan command in this
process (report written, policies gated, and with `--compare` against a slightly changed fleet), and the *floor*:
the very same resources (types, names, parents, inputs, options) and lookups registered bare, with no component
code, under the same mock engine with the same imports; the floor again with the cyclic collector off, as the
program runs (__main__.py). Runs are interleaved and each figure is the median of three. Then the command once in
a fresh process, as users run it (its wall time and peak memory), and what the real engine would ask the
providers for (`components/plan/api_calls.py`). Prints a table and writes bench/results/<date>.json.
"""

from __future__ import annotations

import contextlib
import gc
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
from components.plan import api_calls, engine
from components.plan.__main__ import main as plan_main
from components.plan.engine import PlanResult, Resource
from components.plan.stack_file import StackFile, read_stack_file
from tests.fleets import write_stack

ROOT = Path(__file__).resolve().parents[1]
SIZES = (10, 100, 500, 1000)
PROVIDER = "pulumi:providers:"
REPEAT = 3


def _in_order(result: PlanResult) -> tuple[list[Resource], dict[str, list[tuple[str, bool]]]]:
    """The recorded resources, each after its parent, its provider and what it depends on; and name -> (urn, is a
    provider) for finding what the options name."""
    by_name: dict[str, list[tuple[str, bool]]] = {}
    for rec in result.resources:
        by_name.setdefault(rec.name, []).append((rec.urn, rec.type.startswith(PROVIDER)))
    by_urn = {r.urn: r for r in result.resources}
    records: list[Resource] = []  # every resource after its parent, its provider and what it depends on
    placed: set[str] = set()

    def place(urn: str) -> None:
        if urn in placed or urn not in by_urn:
            return
        placed.add(urn)
        rec = by_urn[urn]
        names = [rec.options.get("provider") or "", *(rec.options.get("dependsOn") or [])]
        before = [rec.parent] + [u for n in names for u, _ in by_name.get(n, [])]
        for other in before:
            place(other)
        records.append(rec)

    for rec in result.resources:
        place(rec.urn)
    return records, by_name


def _floor_body(result: PlanResult) -> Callable[[], None]:
    """A program that registers exactly what `result` recorded, bare, and makes the same lookups: every resource
    with its type, name, inputs, parent and the options the engine received (protect, provider, dependsOn,
    customTimeouts, ignoreChanges, deleteBeforeReplace, additionalSecretOutputs, retainOnDelete)."""
    records, by_name = _in_order(result)
    invokes = list(result.invokes)

    def body() -> None:
        made: dict[str, pulumi.Resource] = {}

        def named(name: str | None, providers: bool = False) -> pulumi.Resource | None:
            urns = [urn for urn, provider in by_name.get(name or "", []) if provider == providers]
            return made.get(urns[0]) if len(urns) == 1 else None

        for rec in records:
            options, timeouts = rec.options, rec.options.get("customTimeouts") or {}
            opts = pulumi.ResourceOptions(
                parent=made.get(rec.parent),
                protect=options.get("protect", False),
                provider=named(options.get("provider"), providers=True) if rec.custom else None,
                depends_on=[made[urn] for n in options.get("dependsOn") or [] for urn, _ in by_name.get(n, [])],
                custom_timeouts=pulumi.CustomTimeouts(**timeouts) if timeouts else None,
                ignore_changes=options.get("ignoreChanges") or None,
                delete_before_replace=options.get("deleteBeforeReplace"),  # true, false or None (the provider decides)
                additional_secret_outputs=options.get("additionalSecretOutputs") or None,
                retain_on_delete=options.get("retainOnDelete") or None,
            )
            if rec.type.startswith(PROVIDER):
                made[rec.urn] = pulumi.ProviderResource(
                    rec.type.removeprefix(PROVIDER), rec.name, dict(rec.inputs), opts
                )
            elif rec.custom:
                made[rec.urn] = pulumi.CustomResource(rec.type, rec.name, dict(rec.inputs), opts)
            else:
                made[rec.urn] = pulumi.ComponentResource(rec.type, rec.name, None, opts)
        for invoke in invokes:
            pulumi.runtime.invoke_output(invoke["token"], dict(invoke["args"]))  # as the program: never blocking

    return body


def _time(work: Callable[[], object], *, collector: bool = True) -> float:
    """Seconds `work` takes; with `collector` False, the cyclic garbage collector is off meanwhile.

    What the benchmark itself holds is frozen first (`gc.freeze`): the collector, when on, scans only what `work`
    creates, as in a process of its own."""
    gc.collect()
    gc.freeze()
    try:
        with contextlib.nullcontext() if collector else engine.collector_off():
            start = time.perf_counter()
            work()
            return time.perf_counter() - start
    finally:
        gc.unfreeze()


_LAUNCHER = """\
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - start, usage.ru_maxrss)
"""


def _command(stack_file: Path, out: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `python -m components.plan` in a fresh process, as users run it.

    Started by a small launcher process: Linux counts the memory of the process that starts a child in the
    child's peak (it is that process until exec), so this big benchmark process must not start it itself."""
    args = [sys.executable, "-m", "components.plan", "--stack-file", str(stack_file), "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", _LAUNCHER, *args], cwd=ROOT, capture_output=True, text=True)
    status, seconds, peak_kib = done.stdout.split()
    if done.returncode != 0 or status != "0":
        raise RuntimeError(f"python -m components.plan exited {status} on {stack_file}")
    return float(seconds), int(peak_kib) / 1024


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
    samples: dict[str, list[float]] = {"program": [], "floor": [], "floor_no_gc": [], "plan": [], "plan_compare": []}
    for i in range(REPEAT):  # interleaved: noise hits every kind alike
        samples["floor"].append(_time(lambda: engine.run_function(floor, stack="bench")))
        # The program turns the cyclic collector off (__main__.py); the floor with it off too shows how much
        # of the difference is that, and how much is the program's own work.
        samples["floor_no_gc"].append(_time(lambda: engine.run_function(floor, stack="bench"), collector=False))
        # As the plan command runs it: the collector stays off until the command ends (engine.run alone turns it
        # back on at the end, and the first allocation after that would sweep the whole run inside the timing).
        samples["program"].append(_time(lambda: engine.run(stack), collector=False))
        plain = ["--stack-file", str(base_file), "--out", str(work / f"out-{size}-{i}")]
        samples["plan"].append(_time(lambda args=plain: plan_main(args)))
        compare = ["--stack-file", str(new_file), "--out", str(work / f"out-c-{size}-{i}"), "--compare", str(base_out)]
        samples["plan_compare"].append(_time(lambda args=compare: plan_main(args)))
    medians = {k: statistics.median(v) for k, v in samples.items()}
    command_seconds, peak = _command(base_file, work / f"out-command-{size}")
    return {
        "runners": size,
        "resources": len(recorded.resources),
        "lookups": len(recorded.invokes),
        "seconds": {k: round(v, 3) for k, v in medians.items()} | {"command": round(command_seconds, 3)},
        "program_vs_floor": round(medians["program"] / medians["floor"], 2),
        "plan_vs_floor": round(medians["plan"] / medians["floor"], 2),
        "plan_vs_floor_no_gc": round(medians["plan"] / medians["floor_no_gc"], 2),
        "compare_overhead": round(medians["plan_compare"] / medians["plan"] - 1, 3),
        "peak_mib": round(peak, 1),
        "requests": api_calls.count(recorded),
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
            seconds, gitlab = row["seconds"], row["requests"]["gitlabRequests"]
            print(
                f"{row['runners']:>5} runners {row['resources']:>6} resources {row['lookups']:>4} lookups  "
                f"program {seconds['program']:>6.2f} s  plan {seconds['plan']:>6.2f} s  "
                f"floor {seconds['floor']:>6.2f} s  (plan {row['plan_vs_floor']}x floor; "
                f"{row['plan_vs_floor_no_gc']}x the floor without its collector)  "
                f"--compare {row['compare_overhead']:+.0%}  command {seconds['command']:.2f} s, "
                f"peak {row['peak_mib']} MiB  GitLab requests: up {gitlab['up']}, refresh {gitlab['previewRefresh']}",
                flush=True,
            )
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        for kind in ("plan", "command"):
            growth = last["seconds"][kind] / first["seconds"][kind]
            print(f"{kind} time {last['runners']} vs {first['runners']} runners: {growth:.1f}x")
    machine = {"cpus": len(os.sched_getaffinity(0)), "python": sys.version.split()[0]}
    out = ROOT / "bench" / "results" / f"{datetime.now(UTC):%Y-%m-%dT%H%M%SZ}.json"
    out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=2) + "\n")
    print(f"written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
