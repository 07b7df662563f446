"""Offline plan: what `pulumi up` would declare for a stack file, without the Pulumi CLI, credentials or network.

    python -m components.plan --stack-file stacks/Pulumi.dev.yaml --out plan/dev

Prints the resource tree and writes to --out:
- plan.json: every resource (type, name, urn, parent, inputs as the engine receives them with secrets
  shown as "[secret]", options incl. protect), the GitLab lookups, the stack outputs and warnings;
- hosts/<host>/config.toml for every host (runner tokens shown as [secret]);
- hosts/<host>/manifests.yaml for every Kubernetes host (Secret data shown as [secret]).
Exit 0 on success; 2 when the stack file is invalid, with every problem on stderr, one per line.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from components import mock_engine
from components.mock_engine import PlanResult, Resource
from components.spec import SpecError

CONFIG_FILE = "/etc/gitlab-runner/config.toml"
HOST_LABEL = "runner-fleet.io/host"
EXIT_INVALID = 2


def config_files(result: PlanResult) -> dict[str, str]:
    """host key -> config.toml as declared (Docker upload or Kubernetes Secret), tokens masked."""
    files: dict[str, str] = {}
    for res in result.resources:
        revealed = mock_engine.reveal(res.inputs)
        if res.type == "docker:index/container:Container":
            labels = {x["label"]: x["value"] for x in revealed.get("labels") or []}
            for upload in revealed.get("uploads") or []:
                if upload.get("file") == CONFIG_FILE:
                    files[labels[HOST_LABEL]] = result.mask_tokens(upload["content"])
        elif res.type == "kubernetes:core/v1:Secret":
            host = revealed["metadata"]["labels"][HOST_LABEL]
            files[host] = result.mask_tokens(revealed["stringData"]["config.toml"])
    return dict(sorted(files.items()))


APPLY_ORDER = ("Namespace", "ServiceAccount", "Role", "RoleBinding", "Secret", "Deployment", "Service")


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def manifest(res: Resource) -> dict[str, Any]:
    """The object as the Kubernetes provider would apply it, secrets shown as [secret]."""
    body = _sorted(mock_engine.display(res.inputs))
    if res.type == "kubernetes:core/v1:Secret":
        body["stringData"] = {k: mock_engine.SECRET for k in mock_engine.reveal(res.inputs).get("stringData", {})}
    ordered = {"apiVersion": body.pop("apiVersion"), "kind": body.pop("kind"), "metadata": body.pop("metadata")}
    return {**ordered, **body}


def manifests(result: PlanResult) -> dict[str, list[dict[str, Any]]]:
    """host key -> every Kubernetes object of that host, in declaration order."""
    out: dict[str, list[dict[str, Any]]] = {}
    for res in result.resources:
        if res.type.startswith("kubernetes:") and res.custom and not res.type.startswith("pulumi:providers"):
            host = mock_engine.reveal(res.inputs)["metadata"]["labels"][HOST_LABEL]
            out.setdefault(host, []).append(manifest(res))
    order = {kind: i for i, kind in enumerate(APPLY_ORDER)}
    return {
        host: sorted(objs, key=lambda o: (order.get(o["kind"], 99), o["metadata"]["name"]))
        for host, objs in out.items()
    }


def _manager(result: PlanResult, host: str) -> tuple[str, int]:
    """(where the manager runs, its drain period in seconds) from the declared resources."""
    for res in result.resources:
        inputs = mock_engine.reveal(res.inputs)
        if res.type == "docker:index/container:Container":
            labels = {x["label"]: x["value"] for x in inputs.get("labels") or []}
            if labels.get(HOST_LABEL) == host and labels.get("runner-fleet.io/role") == "manager":
                return f"container {inputs['name']}", int(inputs["destroyGraceSeconds"])
        elif res.type == "kubernetes:apps/v1:Deployment" and inputs["metadata"]["labels"].get(HOST_LABEL) == host:
            grace = inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            return f"deployment {inputs['metadata']['namespace']}/{inputs['metadata']['name']}", int(grace)
    raise KeyError(f"no manager declared for host {host!r}")


def _relaxed(entry: dict[str, Any]) -> bool:
    build = entry.get("kubernetes", {}).get("build_container_security_context", {})
    return "security_opt" in entry.get("docker", {}) or build.get("seccomp_profile", {}).get("type") == "Unconfined"


def hosts_summary(result: PlanResult) -> dict[str, Any]:
    """Per host: executor, manager, drain period and runners (with whether each is BuildKit-relaxed)."""
    summary: dict[str, Any] = {}
    for host, text in config_files(result).items():
        document = tomllib.loads(text)
        manager, drain = _manager(result, host)
        summary[host] = {
            "executor": document["runners"][0]["executor"] if document["runners"] else None,
            "manager": manager,
            "concurrent": document["concurrent"],
            "drainSeconds": drain,
            "runners": {entry["name"]: {"buildkit": _relaxed(entry)} for entry in document["runners"]},
        }
    return summary


def plan_document(result: PlanResult) -> dict[str, Any]:
    return {
        "project": "runner-fleet",
        "stack": result.stack,
        "hosts": hosts_summary(result),
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "urn": r.urn,
                "parent": r.parent,
                "custom": r.custom,
                "inputs": _sorted(r.display_inputs),
                "options": r.options,
            }
            for r in result.resources
        ],
        "lookups": result.invokes,
        "outputs": result.outputs,
        "warnings": result.warnings,
    }


def tree(result: PlanResult) -> str:
    by_parent: dict[str, list[Resource]] = {}
    for res in result.resources:
        by_parent.setdefault(res.parent, []).append(res)
    urns = {r.urn for r in result.resources}
    lines: list[str] = []

    def walk(res: Resource, depth: int) -> None:
        flag = "  [protect]" if res.options.get("protect") else ""
        lines.append(f"{'  ' * depth}+ {res.type}  {res.name}{flag}")
        for child in by_parent.get(res.urn, []):
            walk(child, depth + 1)

    for res in result.resources:
        if res.parent not in urns:
            walk(res, 0)
    return "\n".join(lines)


def write(result: PlanResult, out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    (out / "plan.json").write_text(json.dumps(plan_document(result), indent=2, sort_keys=False) + "\n")
    for host, text in config_files(result).items():
        (out / "hosts" / host).mkdir(parents=True, exist_ok=True)
        (out / "hosts" / host / "config.toml").write_text(text)
    for host, objects in manifests(result).items():
        (out / "hosts" / host).mkdir(parents=True, exist_ok=True)
        (out / "hosts" / host / "manifests.yaml").write_text(
            yaml.safe_dump_all(objects, sort_keys=False, default_flow_style=False)
        )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.plan", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-file", required=True, type=Path, help="stacks/Pulumi.<stack>.yaml")
    parser.add_argument("--out", required=True, type=Path, help="directory for plan.json and hosts/")
    parser.add_argument("--stack", help="stack name (default: from the file name)")
    args = parser.parse_args(argv)
    try:
        stack_file = mock_engine.read_stack_file(args.stack_file, args.stack)
        result = mock_engine.run(stack_file)
    except mock_engine.StackFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except SpecError as exc:
        print(f"error: {exc.source}: {len(exc.problems)} problem(s); nothing was declared:", file=sys.stderr)
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_INVALID
    except Exception as exc:
        print(f"error: the program failed under the mock engine: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    write(result, args.out)
    print(tree(result))
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print()
    for host, info in hosts_summary(result).items():
        runners = ", ".join(f"{name}{' (buildkit)' if r['buildkit'] else ''}" for name, r in info["runners"].items())
        print(f"host {host}: {info['executor']} manager {info['manager']}, drains {info['drainSeconds']} s; {runners}")
    print(f"{len(result.resources)} resources for stack '{result.stack}'; written to {args.out}/")
    return 0


if __name__ == "__main__":
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # The mock engine leaves one idle asyncio loop per worker thread; letting the interpreter collect them
    # at exit can print a spurious "Exception ignored" traceback. Everything is written and flushed: leave.
    os._exit(status)
