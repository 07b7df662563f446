"""Before `pulumi up`: refuse a state in which the next run would stop a host's only working Docker manager.

    pulumi stack export --stack prod | python -m components.ops.preflight

A new manager generation is created with the provider's `wait` for its health check; when it never gets healthy
(a wrong image, a config it refuses), the create fails and the run stops before the old manager is stopped. Pulumi
keeps the failed successor in the state with `initErrors` and the old manager marked for deletion. A later run sees
no change in the successor's inputs, so nothing creates it again and nothing waits for its health (the engine's
step generator gives such a resource an empty update; the bridge's Update without a diff calls no provider code),
and the end of that run deletes the old manager: the host keeps only the broken successor. This check reads the
exported state and refuses while a Docker manager carries `initErrors` (apitype ResourceV3 `initErrors`), saying
how to start it over. It prints resource and container names only, never inputs or outputs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from components.render import labels as marks
from components.spec.safe_text import escape_controls

CONTAINER = "docker:index/container:Container"
BLOCKED = 3  # as the plan command: the run would do harm; fix first


def _is_manager(resource: Mapping[str, Any]) -> bool:
    return marks.label_of(resource.get("inputs") or {}, marks.ROLE) == marks.ROLE_MANAGER


def failed_starts(export: Mapping[str, Any]) -> list[str]:
    """One line per Docker manager whose create failed in an earlier run (its health wait), with what to do."""
    found = []
    for resource in (export.get("deployment") or {}).get("resources") or []:
        if not isinstance(resource, dict) or resource.get("type") != CONTAINER or not resource.get("initErrors"):
            continue
        if not _is_manager(resource) or resource.get("delete"):
            continue
        name = str((resource.get("outputs") or resource.get("inputs") or {}).get("name", "?"))
        urn_name = str(resource.get("urn", "")).rpartition("::")[2]
        found.append(
            f"{escape_controls(urn_name)}: manager container {escape_controls(name)} did not get healthy in an "
            "earlier run; a new `pulumi up` would keep it without waiting and stop the old manager at its end. "
            f"Find why (`docker logs {escape_controls(name)}` on the host), remove it (`docker rm -f "
            f"{escape_controls(name)}`), run `pulumi refresh`, then `pulumi up`: its create and health wait run anew"
        )
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.ops.preflight", description=__doc__.split("\n")[0])
    parser.add_argument(
        "export", nargs="?", default="-", help="`pulumi stack export` output (a file, or - for stdin: the default)"
    )
    args = parser.parse_args(argv)
    try:
        text = sys.stdin.read() if args.export == "-" else open(args.export, encoding="utf-8").read()  # noqa: SIM115
        export = json.loads(text)
    except (OSError, UnicodeDecodeError, ValueError) as err:
        print(f"preflight: cannot read the stack export: {type(err).__name__}", file=sys.stderr)
        return 2
    if not isinstance(export, dict):
        print("preflight: the stack export is not a JSON object", file=sys.stderr)
        return 2
    problems = failed_starts(export)
    for line in problems:
        print(f"preflight: {line}", file=sys.stderr)
    if problems:
        return BLOCKED
    print("preflight: no manager left from a failed start")
    return 0


if __name__ == "__main__":
    sys.exit(main())
