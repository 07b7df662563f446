"""Offline plan: what `pulumi up` would declare for a stack file, without the Pulumi CLI, credentials or network.

    python -m components.plan --stack-file stacks/Pulumi.dev.yaml --out plan/dev

Prints a summary (counts, then per host what happens; findings aggregated per rule: console.py) and writes the
report (`report.py`: plan.json, hosts/, tree.txt; with --compare also impact.json and impact.md) to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from components import providers
from components.domain import rotation
from components.domain.model import PROJECT
from components.plan import compare_base, config_diff, console, engine, gate, impact, impact_report, report
from components.plan.engine import PlanResult
from components.plan.stack_file import StackFile, StackFileError, read_stack_file
from components.policy.rules import Violation
from components.spec import SpecError
from components.spec import config as spec_config
from components.spec.problems import one_line
from components.spec.safe_text import escaped_output

EXIT_INVALID = 2
EPILOG = """\
--out is replaced whole: it must be missing, empty, or an earlier plan's output (it holds plan.json).

exit status:
  0  planned; the report is in --out
  2  the stack file is invalid or cannot be read (every problem on stderr, one per line, each naming its
     key path), or --out cannot be replaced; nothing is written
  3  a mandatory policy fails (components/policy/rules.py), or with --compare a step the engine would refuse
     (a protected resource deleted or replaced): the report is written, each on stderr with what to change
  1  the program failed in an unexpected way under the mock engine (a bug: please report it)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components.plan",
        description=__doc__.split("\n\n")[0],
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--stack-file", required=True, type=Path, help="stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--out", required=True, type=Path, help="directory for plan.json and hosts/")
    parser.add_argument("--stack", help="stack name (default: from the file name)")
    parser.add_argument(
        "--now",
        type=_moment_argument,
        metavar="ISO8601",
        help="the moment (UTC) time-based decisions such as token rotation are made for (default: now)",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="BASE_DIR",
        help="an earlier plan output: also write impact.json and impact.md (what the change does)",
    )
    return parser


def _moment_argument(text: str) -> datetime:
    try:
        return rotation.parse_now(text)
    except ValueError as exc:  # rotation.NOW_EXPECTED: never the text itself
        raise argparse.ArgumentTypeError(str(exc)) from None


def _base(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]] | int | None:
    """The earlier plan document --compare names and its hosts' config.toml files (read before --out is replaced:
    they may be the same)."""
    if args.compare is None:
        return None
    try:
        document = compare_base.load_base(args.compare)
        configs = config_diff.read_configs(args.compare, document["hosts"])
        compare_base.check_configs(configs)
    except compare_base.BaseError as exc:
        print(one_line(f"error: --compare {args.compare}: {exc}"), file=sys.stderr)
        return EXIT_INVALID
    return document, configs


def _moment(args: argparse.Namespace) -> datetime | int:
    """The moment the plan is made for: --now, else RUNNER_FLEET_NOW as `pulumi up` reads it (the same function,
    spec/config.py), else the wall clock. An environment `pulumi up` would refuse is refused here too (exit 2):
    an unparsable RUNNER_FLEET_NOW, or a PULUMI_CONFIG_<KEY> that would replace a stack file value."""
    problems = spec_config.environment_problems(os.environ)
    if problems:
        print(
            "error: the environment holds what `pulumi up` would refuse, or read instead of the stack file:",
            file=sys.stderr,
        )
        for problem in problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    requested = spec_config.requested_moment(os.environ)
    if args.now is not None and requested is not None and args.now != requested:
        print(
            f"note: --now {args.now.isoformat()} overrides {rotation.NOW_ENV} ({requested.isoformat()}) for this plan; "
            f"`pulumi up` in this environment plans for {rotation.NOW_ENV}",
            file=sys.stderr,
        )
    return args.now or requested or rotation.planned_moment()


def _run(args: argparse.Namespace, moment: datetime) -> tuple[StackFile, PlanResult] | tuple[int, list[str]]:
    """The stack file and its plan, or the exit status and the lines that say on stderr why there is none (printed
    by the caller, once the progress bar is gone)."""
    try:
        stack_file = read_stack_file(args.stack_file, args.stack)
        with rotation.at(moment):
            return stack_file, _run_with_environments(stack_file)
    except StackFileError as exc:
        return EXIT_INVALID, [f"error: {exc}", *exc.problems]
    except SpecError as exc:
        # Name the file this command read; under `pulumi up` the program can only guess it from the stack.
        heading = f"error: {args.stack_file}: {len(exc.problems)} problem(s); nothing was declared:"
        return EXIT_INVALID, [heading, *exc.problems]
    except Exception as exc:
        # A bug, not a stack problem: still one line, and nothing that looks like a secret.
        return 1, [one_line(f"error: the program failed under the mock engine: {type(exc).__name__}: {exc}")]


def _run_with_environments(stack_file: StackFile) -> PlanResult:
    """The plan; for a stack that imports Pulumi ESC environments, secret keys it references but does not set are
    assumed to come from them (placeholders, and a warning: the offline plan cannot check them)."""
    try:
        return engine.run(stack_file)
    except SpecError as exc:
        if not stack_file.environments or not exc.missing_secrets:
            raise
        supplied = exc.missing_secrets
    result = engine.run(stack_file.with_supplied(supplied))
    where = ", ".join(stack_file.environments)
    result.warnings.extend(
        one_line(
            f"{PROJECT}:{key}: not in the stack file; assumed to come from the ESC environment(s) {where} "
            "(the offline plan cannot check it)"
        )
        for key in supplied
    )
    return result


def _summary(result: PlanResult, out: Path, hosts: dict[str, Any]) -> None:
    for line in console.warning_lines(result.warnings):
        print(line, file=sys.stderr)
    for line in console.plan_lines(hosts, result.resources, result.stack, out):
        print(line)


def main(argv: Sequence[str] | None = None) -> int:
    """The command; the cyclic garbage collector stays off while it runs (see __main__.py), as in the program.
    Everything it prints has its control characters escaped (spec/safe_text.py): names and messages may come from
    a stack file or a compare base. Progress, which is drawn with control characters, goes to stderr as it was."""
    terminal = sys.stderr
    with engine.collector_off(), escaped_output():
        return _main(argv, terminal)


def _main(argv: Sequence[str] | None, terminal: TextIO) -> int:
    args = _parser().parse_args(argv)
    for line in providers.ambient_warnings(os.environ):  # about the real `pulumi up`: the plan itself is immune
        print(line, file=sys.stderr)
    inputs = _inputs(args)
    if isinstance(inputs, int):
        return inputs
    moment, base = inputs
    written: Any = None
    status: int | None
    with console.progress(3 if base is not None else 2, terminal) as step:
        step("running the program under the mock engine")
        planned = _run(args, moment)
        if isinstance(planned[0], int):
            status, lines = planned
        else:
            step("writing the report")
            status, lines, written = _write(args, planned, base, step)
    for line in lines:
        print(line, file=sys.stderr)
    if written is None:
        return int(status or 0)
    result, violations, document, found = written
    _summary(result, args.out, document["hosts"])
    blocked = _print_impact(*found) if found is not None else []
    return _verdict(violations, blocked)


def _write(
    args: argparse.Namespace, planned: tuple[Any, Any], base: tuple[dict[str, Any], dict[str, str]] | None, step: Any
) -> tuple[int | None, list[str], Any]:
    """Write the report (and with --compare the impact report); (exit status or None, lines for stderr, what was
    written: violations, plan document, impact)."""
    stack_file, result = planned
    if base is not None and base[0]["stack"] != result.stack:
        return (
            EXIT_INVALID,
            [f"error: --compare holds a plan of stack {base[0]['stack']!r}, not {result.stack!r}"],
            None,
        )
    violations = gate.check(result, dict(stack_file.config))
    try:
        document = report.write(result, args.out, violations)
    except OSError as exc:  # a parent that is a file, no space, no permission: say so, as for any bad --out
        return (
            EXIT_INVALID,
            [one_line(f"error: --out {args.out}: cannot write the report ({exc.strerror or exc})")],
            None,
        )
    if base is None:
        return None, [], (result, violations, document, None)
    step("comparing with the base")
    try:
        found = _impact(base, args.out, result.stack)
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:  # a base edited by hand
        lines = [
            f"error: --compare {args.compare}: plan.json does not hold what this command writes "
            f"({type(exc).__name__}); the plan is in {args.out}, with no impact report"
        ]
        return EXIT_INVALID, lines, None
    return None, [], (result, violations, document, found)


def _inputs(args: argparse.Namespace) -> tuple[datetime, tuple[dict[str, Any], dict[str, str]] | None] | int:
    """What the plan needs besides the stack file (the moment, the compare base), once --out is known to be
    replaceable; or the exit status after saying why not."""
    unreplaceable = report.replaceable(args.out)
    if unreplaceable is not None:
        print(f"error: --out {unreplaceable}", file=sys.stderr)
        return EXIT_INVALID
    moment = _moment(args)
    if isinstance(moment, int):
        return moment
    base = _base(args)
    return base if isinstance(base, int) else (moment, base)


def _verdict(violations: Sequence[Violation], blocked: Sequence[dict[str, Any]]) -> int:
    """Print the policies' verdicts (aggregated per rule and severity) and the blocked steps; the exit status."""
    for severity in ("error", "warning", "note"):
        found = [
            (v.rule, v.resource, v.message)
            for v in violations
            if severity == ("error" if v.mandatory else "note" if v.exempt else "warning")
        ]
        for line in console.aggregated_policies(severity, found):
            print(line, file=sys.stderr)
    blocking = [v for v in violations if v.mandatory]
    if blocking:
        print(f"error: {len(blocking)} mandatory policy violation(s): pulumi up must not run", file=sys.stderr)
    if blocked:
        print(f"error: {len(blocked)} step(s) the engine would refuse: pulumi up would stop there", file=sys.stderr)
    return gate.EXIT_POLICY if blocking or blocked else 0


def _impact(base: tuple[dict[str, Any], dict[str, str]], out: Path, stack: str) -> tuple[Any, ...]:
    """Write impact.json and impact.md into `out`; return what the terminal summary needs."""
    document, configs = base
    new = json.loads((out / "plan.json").read_text())
    between = impact.steps(document["resources"], new["resources"])
    news = config_diff.read_configs(out, new["hosts"])
    found = impact.compare(document, new, between, (configs, news))
    at_risk = impact.warnings(document, new, between)
    (out / "impact.json").write_text(json.dumps(found, indent=2) + "\n")
    (out / "impact.md").write_text(impact.markdown(found, stack, at_risk))
    return found, at_risk, out


def _print_impact(found: dict[str, Any], at_risk: Sequence[Any], out: Path) -> list[dict[str, Any]]:
    """Print the impact summary; return the blocked steps."""
    risks = [(r.rule, r.resource, r.message) for r in at_risk]
    for line in console.aggregated("warning: running jobs at risk: ", risks, f"in {out}/impact.md"):
        print(line, file=sys.stderr)
    counts = ", ".join(f"{sum(s['action'] == a for s in found['resources'])} to {a}" for a in impact_report.ACTIONS)
    print(f"impact: {counts} (resources); every step, host and runner in {out}/impact.md")
    for line in console.host_impact_lines(found["hosts"]):
        print(line)
    blocked = [s for s in found["resources"] if s["blocked"]]
    for line in console.blocked_lines(blocked):
        print(line, file=sys.stderr)
    return blocked


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The mock engine leaves one idle asyncio loop per worker thread; letting the interpreter collect them
    # at exit can print a spurious "Exception ignored" traceback. Everything is written and flushed: leave.
    os._exit(status)
