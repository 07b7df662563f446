"""Summarise `pulumi preview --json` for the merge-request note: counts per action and what is replaced or deleted.

    pulumi preview --stack prod --json > preview.json
    python -m components.ops.preview_summary --stack prod preview.json > preview.md

Only counts, operations and resource names (from URNs) are written: never inputs, outputs or the raw log, so no
secret value can reach the note.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

SHOWN = ("create", "update", "replace", "delete")
HEAVY = {"replace", "create-replacement", "delete-replaced", "delete"}


def _name(urn: str) -> str:
    """`type name` from a URN: urn:pulumi:stack::project::parent$type::name."""
    qualified, _, name = urn.rpartition("::")
    return f"{qualified.rsplit('$', 1)[-1].rsplit('::', 1)[-1]} {name}"


def summary(preview: Mapping[str, Any], stack: str) -> str:
    counts = preview.get("changeSummary") or {}
    steps = [s for s in preview.get("steps") or [] if isinstance(s, dict)]
    lines = [f"#### `pulumi preview` of `{stack}`", ""]
    shown = [f"{counts.get(op, 0)} to {op}" for op in SHOWN if counts.get(op)]
    lines.append(", ".join(shown) + (f", {counts.get('same', 0)} unchanged" if counts else "") or "no changes")
    heavy = sorted({(s.get("op", ""), _name(str(s.get("urn", "")))) for s in steps if s.get("op") in HEAVY})
    lines += [f"- {op}: `{name}`" for op, name in heavy]
    errors = [d for d in preview.get("diagnostics") or [] if isinstance(d, dict) and d.get("severity") == "error"]
    if errors:
        lines.append(f"- {len(errors)} error(s): see the job log")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m components.ops.preview_summary", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("preview", type=Path, help="the output of pulumi preview --json")
    parser.add_argument("--stack", required=True)
    args = parser.parse_args(argv)
    try:
        preview = json.loads(args.preview.read_text())
    except (OSError, ValueError) as exc:
        print(f"error: {args.preview}: not the JSON of pulumi preview --json ({type(exc).__name__})", file=sys.stderr)
        return 2
    if not isinstance(preview, dict):
        print(f"error: {args.preview}: not the JSON of pulumi preview --json", file=sys.stderr)
        return 2
    print(summary(preview, args.stack), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
