"""What the plan command prints: a summary a reviewer reads on one screen, however large the fleet.

Counts first, then per host what happens; findings repeated across resources are aggregated per rule (the rule id,
a count and a few examples); the full resource tree and every finding are in the plan output (tree.txt, plan.json,
impact.md). Progress goes to stderr only when it is a terminal and the plan has run for PROGRESS_DELAY seconds
(tqdm, https://tqdm.github.io/), and is erased when the plan ends, so logs and pipes never see it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TextIO

from tqdm import tqdm

from components.plan.capacity import duration

EXAMPLES = 3
"""Examples named when a rule's findings are aggregated."""
MAX_SINGLE = 3
"""Findings of one rule printed one per line; more are aggregated."""
MAX_SINGLE_ERRORS = 10
"""The same for mandatory findings, each of which must be fixed: more of them are listed one by one."""
MAX_HOST_LINES = 20
"""Hosts given a line of their own; the others are counted (every host is in plan.json and impact.md)."""
MAX_WARNINGS = 10
"""Lines of program warnings printed (each a warning or a group of the same finding); the rest are counted (all
are in plan.json `warnings`)."""
PROGRESS_DELAY = 2.0
"""Seconds a plan runs before progress appears (on a terminal)."""
TICK = 0.5


def _examples(names: Sequence[str]) -> str:
    shown = ", ".join(names[:EXAMPLES])
    return f"{shown}, ..." if len(names) > EXAMPLES else shown


Found = Sequence[tuple[str, str]]
"""The (resource, message) findings of one rule."""


def grouped(
    findings: Iterable[tuple[str, str, str]],
    single: Callable[[str, str, str], str],
    many: Callable[[str, Found], str],
    limit: int = MAX_SINGLE,
) -> list[str]:
    """`findings` as (rule, resource, message), grouped per rule in order of appearance: up to `limit` of a rule a
    line each (`single(rule, resource, message)`), more as one line (`many(rule, findings)`)."""
    by_rule: dict[str, list[tuple[str, str]]] = {}
    for rule, resource, message in findings:
        by_rule.setdefault(rule, []).append((resource, message))
    lines = []
    for rule, found in by_rule.items():
        if len(found) <= limit:
            lines += [single(rule, resource, message) for resource, message in found]
        else:
            lines.append(many(rule, found))
    return lines


def aggregated(prefix: str, findings: Sequence[tuple[str, str, str]], where: str) -> list[str]:
    """`findings` as (rule, resource, message): up to MAX_SINGLE of a rule as `prefix resource: message`, more as
    one line with the rule, the count, examples and the first message; `where` says where every finding is."""
    return grouped(
        findings,
        lambda _, resource, message: f"{prefix}{resource}: {message}",
        lambda rule, found: (
            f"{prefix}[{rule}] {len(found)} resources ({_examples([r for r, _ in found])}): {found[0][1]} "
            f"(every one {where})"
        ),
    )


def aggregated_policies(severity: str, findings: Sequence[tuple[str, str, str]]) -> list[str]:
    """Policy findings of one severity (error, warning, note): `severity: policy rule: resource: message`, more than
    MAX_SINGLE of a rule as one line with the rule id, the count and examples (all are in plan.json `policies`)."""
    return grouped(
        findings,
        lambda rule, resource, message: f"{severity}: policy {rule}: {resource}: {message}",
        lambda rule, found: (
            f"{severity}: policy {rule}: {len(found)} findings ({_examples([r for r, _ in found])}); the first: "
            f"{found[0][0]}: {found[0][1]} (every one in plan.json: policies)"
        ),
        MAX_SINGLE_ERRORS if severity == "error" else MAX_SINGLE,
    )


def plan_lines(hosts: Mapping[str, Any], resources: Sequence[Any], stack: str, out: Any) -> list[str]:
    """The plan's summary: resource counts by provider, one line per host (up to MAX_HOST_LINES), where it is."""
    providers = Counter(str(r.type).split(":", 1)[0] for r in resources if r.custom)
    counts = ", ".join(f"{n} {p}" for p, n in sorted(providers.items()))
    lines = []
    for host, info in list(hosts.items())[:MAX_HOST_LINES]:
        names = [f"{name}{' (buildkit)' if r['buildkit'] else ''}" for name, r in info["runners"].items()]
        more = f", and {len(names) - 5} more" if len(names) > 5 else ""
        lines.append(
            f"host {host}: {info['executor']} manager {info['manager']}, drains {info['drainSeconds']} s "
            f"({duration(info['drainSeconds'])}); {', '.join(names[:5])}{more}"
        )
    if len(hosts) > MAX_HOST_LINES:
        lines.append(f"... and {len(hosts) - MAX_HOST_LINES} more hosts (plan.json: hosts)")
    lines.append(
        f"{len(resources)} resources for stack '{stack}' ({counts}) on {len(hosts)} host(s); written to {out}/"
    )
    lines.append(f"the resource tree: {out}/tree.txt")
    return lines


_NAMED_KEY = re.compile(r"^(?P<section>hosts|runners)\.(?P<name>[a-z0-9][a-z0-9-]*)(?=[.:\[]|$)")
_INDEXED_KEY = re.compile(r"^(?P<section>[A-Za-z]+)\[(?P<name>\d+)\]")
_PLACEHOLDER = {"hosts": "<host>", "runners": "<runner>"}  # any other section: a list index


def _warning_group(warning: str) -> tuple[tuple[str, str], str, str]:
    """(group, key pattern, the name that varies) of a program warning `<key path>: <message>`: the host, runner or
    list index in the key path is abstracted (`hosts.<host>.concurrent`), and so are that name and every number in
    the message, so that the same finding about many hosts is one group, and different findings never are."""
    path, sep, message = warning.partition(": ")
    match = _NAMED_KEY.match(path) or _INDEXED_KEY.match(path) if sep else None
    if match is None:
        return (warning, ""), warning, ""
    section, name = match["section"], match["name"]
    placeholder = _PLACEHOLDER.get(section, "<i>")
    pattern = path[: match.start("name")] + placeholder + path[match.end("name") :]
    shape = re.sub(r"\d+", "#", re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", placeholder, message))
    return (pattern, shape), pattern, name


def warning_lines(warnings: Sequence[str]) -> list[str]:
    """The program's warnings grouped by finding (the key path with its host, runner or index abstracted): a group
    of up to MAX_SINGLE as its warnings, a larger one as one line with the count, EXAMPLES names and the first
    warning; at most MAX_WARNINGS lines, then a count (every warning is in plan.json `warnings`)."""
    groups: dict[tuple[str, str], list[tuple[str, str, str]]] = {}
    for warning in warnings:
        key, pattern, name = _warning_group(warning)
        groups.setdefault(key, []).append((warning, pattern, name))
    lines: list[str] = []
    for found in groups.values():
        if len(found) <= MAX_SINGLE:
            lines += [f"warning: {warning}" for warning, _, _ in found]
            continue
        first, pattern, _ = found[0]
        names = [name for _, _, name in found]
        lines.append(
            f"warning: {pattern}: {len(found)} warnings ({_examples(names)}); the first: {first} "
            "(every one in plan.json: warnings)"
        )
    if len(lines) > MAX_WARNINGS:
        rest = len(lines) - MAX_WARNINGS + 1
        lines = [*lines[: MAX_WARNINGS - 1], f"warning: ... and {rest} more lines of warnings (plan.json: warnings)"]
    return lines


def host_impact_lines(hosts: Mapping[str, Any]) -> list[str]:
    """One line per host that changes (up to MAX_HOST_LINES), the rest counted per effect with examples."""
    changed = [(h, e) for h, e in hosts.items() if e["effect"] != "none" or e.get("capacityLine")]
    lines = []
    for host, effect in changed[:MAX_HOST_LINES]:
        names = "; ".join(f"{k} {', '.join(v)}" for k, v in (effect.get("names") or {}).items() if v)
        line = f"impact: host {host}: {effect['effect']}: {effect['why']}"
        line += f"; {names}" if names else ""
        line += f"; capacity: {effect['capacityLine']}" if effect.get("capacityLine") else ""
        lines.append(line)
    rest: dict[str, list[str]] = {}
    for host, effect in changed[MAX_HOST_LINES:]:
        rest.setdefault(effect["effect"], []).append(host)
    lines += [
        f"impact: {kind} on {len(names)} more hosts ({_examples(names)}): see impact.md" for kind, names in rest.items()
    ]
    unchanged = len(hosts) - len(changed)
    if unchanged:
        lines.append(f"impact: {unchanged} host(s) unchanged")
    return lines


def blocked_lines(blocked: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each blocked step with its fix; many with the same reason as one line with examples."""
    by_reason: dict[str, list[Mapping[str, Any]]] = {}
    for step in blocked:
        by_reason.setdefault(step["blocked"]["reason"], []).append(step)
    lines = []
    for reason, steps in by_reason.items():
        if len(steps) <= MAX_SINGLE:
            lines += [f"error: blocked: {s['action']} {s['name']}: {reason}" for s in steps]
        else:
            names = [f"{s['action']} {s['name']}" for s in steps]
            lines.append(f"error: blocked: {len(steps)} steps ({_examples(names)}): {reason} (every one in impact.md)")
        lines.append(f"  fix: {steps[0]['blocked']['fix']}")
    return lines


def _size(stream: TextIO) -> tuple[int, int]:
    """The terminal's (columns, rows); 80x24 where it says 0 (a pseudo-terminal nobody sized: tqdm then draws
    nothing)."""
    try:
        size = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return 80, 24
    return size.columns or 80, size.lines or 24


@contextlib.contextmanager
def progress(phases: int, stream: TextIO | None = None) -> Iterator[Any]:
    """A progress bar of `phases` steps on `stream` (stderr), shown only on a terminal and only once the plan has
    run for PROGRESS_DELAY seconds; yields `step(name)`, called as each phase begins. A ticker refreshes the
    elapsed time while a long phase (the mock engine) runs."""
    stream = sys.stderr if stream is None else stream
    shown = stream.isatty()
    bar = tqdm(
        total=phases,
        file=stream,
        disable=not shown,
        delay=PROGRESS_DELAY,
        leave=False,
        ncols=_size(stream)[0] if shown else None,
        nrows=_size(stream)[1] if shown else None,
        bar_format="{desc}: step {n_fmt}/{total_fmt} {bar} {elapsed}",
    )
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(TICK):
            if bar.format_dict["elapsed"] >= PROGRESS_DELAY:
                bar.refresh()

    ticker = threading.Thread(target=tick, name="plan-progress", daemon=True) if shown else None
    started = [False]

    def step(name: str) -> None:
        if started[0]:
            bar.update(1)
        started[0] = True
        bar.set_description_str(f"plan: {name}", refresh=False)

    if ticker is not None:
        ticker.start()
    try:
        yield step
    finally:
        stop.set()
        if ticker is not None:
            ticker.join()
        bar.close()
