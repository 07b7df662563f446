"""Offline plan: what `pulumi up` would declare for a stack file, without the Pulumi CLI, credentials or network.

    python -m components.plan --stack-file stacks/Pulumi.dev.yaml --out plan/dev

Prints the resource tree and a line per host, and writes the report (`report.py`) to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from components import providers
from components.domain import rotation
from components.domain.model import PROJECT
from components.plan import compare_base, engine, gate, impact, report
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


def _base(args: argparse.Namespace) -> dict[str, Any] | int | None:
    """The earlier plan document --compare names (read before --out is replaced: they may be the same)."""
    if args.compare is None:
        return None
    try:
        return compare_base.load_base(args.compare)
    except compare_base.BaseError as exc:
        print(one_line(f"error: --compare {args.compare}: {exc}"), file=sys.stderr)
        return EXIT_INVALID


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


def _run(args: argparse.Namespace, moment: datetime) -> tuple[StackFile, PlanResult] | int:
    """The stack file and its plan, or the exit status after saying on stderr why there is none."""
    try:
        stack_file = read_stack_file(args.stack_file, args.stack)
        with rotation.at(moment):
            return stack_file, _run_with_environments(stack_file)
    except StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    except SpecError as exc:
        # Name the file this command read; under `pulumi up` the program can only guess it from the stack.
        print(f"error: {args.stack_file}: {len(exc.problems)} problem(s); nothing was declared:", file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:
        # A bug, not a stack problem: still one line, and nothing that looks like a secret.
        print(
            one_line(f"error: the program failed under the mock engine: {type(exc).__name__}: {exc}"), file=sys.stderr
        )
        return 1


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
    print(report.tree(result))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print()
    for host, info in hosts.items():
        runners = ", ".join(f"{name}{' (buildkit)' if r['buildkit'] else ''}" for name, r in info["runners"].items())
        print(f"host {host}: {info['executor']} manager {info['manager']}, drains {info['drainSeconds']} s; {runners}")
    print(f"{len(result.resources)} resources for stack '{result.stack}'; written to {out}/")


def main(argv: Sequence[str] | None = None) -> int:
    """The command; the cyclic garbage collector stays off while it runs (see __main__.py), as in the program.
    Everything it prints has its control characters escaped (spec/safe_text.py): names and messages may come from
    a stack file or a compare base."""
    with engine.collector_off(), escaped_output():
        return _main(argv)


def _main(argv: Sequence[str] | None) -> int:
    args = _parser().parse_args(argv)
    for line in providers.ambient_warnings(os.environ):  # about the real `pulumi up`: the plan itself is immune
        print(line, file=sys.stderr)
    inputs = _inputs(args)
    if isinstance(inputs, int):
        return inputs
    moment, base = inputs
    planned = _run(args, moment)
    if isinstance(planned, int):
        return planned
    stack_file, result = planned
    if base is not None and base["stack"] != result.stack:
        print(f"error: --compare holds a plan of stack {base['stack']!r}, not {result.stack!r}", file=sys.stderr)
        return EXIT_INVALID
    violations = gate.check(result, dict(stack_file.config))
    try:
        document = report.write(result, args.out, violations)
    except OSError as exc:  # a parent that is a file, no space, no permission: say so, as for any bad --out
        print(one_line(f"error: --out {args.out}: cannot write the report ({exc.strerror or exc})"), file=sys.stderr)
        return EXIT_INVALID
    _summary(result, args.out, document["hosts"])
    try:
        blocked = _impact(base, args.out, result.stack) if base is not None else []
    except (KeyError, TypeError, AttributeError, ValueError, RecursionError) as exc:  # a base edited by hand
        print(
            f"error: --compare {args.compare}: plan.json does not hold what this command writes "
            f"({type(exc).__name__}); the plan is in {args.out}, with no impact report",
            file=sys.stderr,
        )
        return EXIT_INVALID
    return _verdict(violations, blocked)


def _inputs(args: argparse.Namespace) -> tuple[datetime, dict[str, Any] | None] | int:
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
    """Print the policies' verdicts and the blocked steps; the exit status they make."""
    for violation in violations:
        print(
            f"{'error' if violation.mandatory else 'note' if violation.exempt else 'warning'}: {violation}",
            file=sys.stderr,
        )
    blocking = [v for v in violations if v.mandatory]
    if blocking:
        print(f"error: {len(blocking)} mandatory policy violation(s): pulumi up must not run", file=sys.stderr)
    if blocked:
        print(f"error: {len(blocked)} step(s) the engine would refuse: pulumi up would stop there", file=sys.stderr)
    return gate.EXIT_POLICY if blocking or blocked else 0


def _impact(base: dict[str, Any], out: Path, stack: str) -> list[dict[str, Any]]:
    """Write impact.json and impact.md into `out`; print each host's effect; return the blocked steps."""
    new = json.loads((out / "plan.json").read_text())
    between = impact.steps(base["resources"], new["resources"])
    found, at_risk = impact.compare(base, new, between), impact.warnings(base, new, between)
    (out / "impact.json").write_text(json.dumps(found, indent=2) + "\n")
    (out / "impact.md").write_text(impact.markdown(found, stack, at_risk))
    for risk in at_risk:
        print(f"warning: running jobs at risk: {risk}", file=sys.stderr)
    for host, effect in found["hosts"].items():
        print(f"impact: host {host}: {effect['effect']}: {effect['why']}")
    blocked = [s for s in found["resources"] if s["blocked"]]
    for step in blocked:
        print(f"error: blocked: {step['action']} {step['name']}: {step['blocked']['reason']}", file=sys.stderr)
        print(f"  fix: {step['blocked']['fix']}", file=sys.stderr)
    return blocked


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The mock engine leaves one idle asyncio loop per worker thread; letting the interpreter collect them
    # at exit can print a spurious "Exception ignored" traceback. Everything is written and flushed: leave.
    os._exit(status)
