"""The plan report: what a mock-engine run declared, as files a reviewer reads.

- plan.json: every resource (type, name, urn, parent, inputs as the engine receives them with secrets
  shown as "[secret]", options incl. protect), a per-host summary, the GitLab lookups, outputs and warnings;
- hosts/<host>/config.toml for every host (runner tokens shown as [secret]);
- hosts/<host>/manifests.yaml for every Kubernetes host (Secret data shown as [secret]);
- tree.txt: every resource under its parent (the terminal shows a summary: console.py).
Everything is read back from the declared resources, never re-rendered: the report shows what `pulumi up`
would send. Labels, file paths and kinds come from the modules that declare them.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import stat
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from components.docker_host import CONFIG_FILE
from components.domain import autoscaler
from components.domain.model import PROJECT, REDACTED
from components.plan import engine, imports
from components.plan.engine import PlanResult, Resource
from components.policy.rules import Violation
from components.render import config_toml
from components.render import labels as marks
from components.render import manifests as k8s_manifests

_DUMPER = yaml.CSafeDumper if yaml.__with_libyaml__ else yaml.SafeDumper  # the same text, libyaml's is 8x faster
DOCKER_CONTAINER = "docker:index/container:Container"
K8S_SECRET = "kubernetes:core/v1:Secret"
K8S_DEPLOYMENT = "kubernetes:apps/v1:Deployment"
USER_RUNNER = "gitlab:index/userRunner:UserRunner"
REGISTRATION = "runner-fleet:registration:RunnerRegistration"


def config_files(result: PlanResult) -> dict[str, str]:
    """host key -> config.toml as declared (Docker upload or Kubernetes Secret), tokens masked."""
    files: dict[str, str] = {}
    for res in result.resources:
        if res.type not in (DOCKER_CONTAINER, K8S_SECRET):
            continue
        revealed = res.revealed
        if res.type == DOCKER_CONTAINER:
            labels = {x["label"]: x["value"] for x in revealed.get("labels") or []}
            for upload in revealed.get("uploads") or []:
                if upload.get("file") == CONFIG_FILE:
                    files[labels[marks.HOST]] = result.mask_tokens(upload["content"])
        elif res.type == K8S_SECRET and k8s_manifests.CONFIG_KEY in revealed["stringData"]:
            host = revealed["metadata"]["labels"][marks.HOST]
            files[host] = result.mask_tokens(revealed["stringData"][k8s_manifests.CONFIG_KEY])
    return dict(sorted(files.items()))


def _sorted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def manifest(res: Resource) -> dict[str, Any]:
    """The object as the Kubernetes provider would apply it, secrets shown as [secret]."""
    body = _sorted(engine.display(res.inputs))
    if res.type == K8S_SECRET:
        body["stringData"] = {k: REDACTED for k in sorted(res.revealed.get("stringData", {}))}  # engine order varies
    ordered = {"apiVersion": body.pop("apiVersion"), "kind": body.pop("kind"), "metadata": body.pop("metadata")}
    return {**ordered, **body}


def manifests(result: PlanResult) -> dict[str, list[dict[str, Any]]]:
    """host key -> every Kubernetes object of that host, in apply order (then by name)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for res in result.resources:
        if res.type.startswith("kubernetes:") and res.custom:
            host = res.revealed["metadata"]["labels"][marks.HOST]
            out.setdefault(host, []).append(manifest(res))
    order = {kind: i for i, kind in enumerate(k8s_manifests.APPLY_ORDER)}
    return {
        host: sorted(objs, key=lambda o: (order.get(o["kind"], 99), o["metadata"]["name"]))
        for host, objs in out.items()
    }


def _managers(result: PlanResult) -> dict[str, tuple[str, int]]:
    """Host key -> (where its manager runs, its drain period in seconds), in one pass over the resources."""
    found: dict[str, tuple[str, int]] = {}
    for res in result.resources:
        if res.type not in (DOCKER_CONTAINER, K8S_DEPLOYMENT):
            continue
        inputs = res.revealed
        if res.type == DOCKER_CONTAINER:
            labels = {x["label"]: x["value"] for x in inputs.get("labels") or []}
            if labels.get(marks.ROLE) == marks.ROLE_MANAGER:
                found[labels[marks.HOST]] = (f"container {inputs['name']}", int(inputs["destroyGraceSeconds"]))
        else:
            grace = inputs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
            where = f"deployment {inputs['metadata']['namespace']}/{inputs['metadata']['name']}"
            found[inputs["metadata"]["labels"][marks.HOST]] = (where, int(grace))
    return found


def hosts_summary(result: PlanResult, files: dict[str, str] | None = None) -> dict[str, Any]:
    """Per host: executor, manager, drain period and runners (with whether each is BuildKit-relaxed).

    `files`: the hosts' config.toml files when the caller has them already (`config_files(result)`)."""
    summary: dict[str, Any] = {}
    managers = _managers(result)
    for host, text in (config_files(result) if files is None else files).items():
        document = tomllib.loads(text)
        if host not in managers:
            raise KeyError(f"no manager declared for host {host!r}")
        manager, drain = managers[host]
        summary[host] = {
            "executor": document["runners"][0]["executor"] if document["runners"] else None,
            "manager": manager,
            "concurrent": document["concurrent"],
            "drainSeconds": drain,
            "runners": {entry["name"]: _runner_summary(entry) for entry in document["runners"]},
        }
    return summary


def _runner_summary(entry: dict[str, Any]) -> dict[str, Any]:
    """A config.toml runner entry as plan.json shows it: BuildKit or not, and the instance group it scales (its
    plugin without the version, and the plugin's settings), which one manager at a time may scale."""
    found: dict[str, Any] = {"buildkit": config_toml.is_buildkit_relaxed(entry)}
    scaler = entry.get("autoscaler")
    if isinstance(scaler, dict):
        given = scaler.get("plugin_config")
        settings: dict[str, Any] = given if isinstance(given, dict) else {}
        try:  # the spec's identity, so that two spellings of one plugin are one group
            found["instanceGroup"] = " ".join(
                autoscaler.instance_group(autoscaler.parse_plugin(scaler["plugin"]), settings)
            )
        except (autoscaler.PluginProblem, KeyError, TypeError):
            plugin = str(scaler.get("plugin", "")).rsplit(":", 1)[0]
            found["instanceGroup"] = f"{plugin} {json.dumps(settings, sort_keys=True)}"
    return found


def secret_digests(result: PlanResult, res: Resource) -> dict[str, str]:
    """A short digest of each input that holds a secret, so that a later plan can tell whether it changed.

    Computed from what the plan itself holds: the stack file's placeholders for secret config values (derived
    from the committed ciphertexts, never from a plaintext) and the mock's tokens masked."""
    shown, revealed = res.display_inputs, res.revealed
    digests = {}
    for key in res.inputs:
        if shown.get(key) != revealed[key]:
            # The mock's tokens masked; the placeholders stay: they carry the ciphertexts' digests.
            text = result.mask_tokens(json.dumps(revealed[key], sort_keys=True), config_values=False)
            digests[key] = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
    return dict(sorted(digests.items()))


def runners_summary(result: PlanResult) -> dict[str, Any]:
    """Per runner key, its registrations as declared (one, or two while a rotation retires the older one)."""
    parents = {r.urn: r.name for r in result.resources if r.type == REGISTRATION}
    summary: dict[str, Any] = {}
    for res in result.resources:
        if res.type == USER_RUNNER and res.parent in parents:
            key = parents[res.parent].removeprefix("runner-")
            registration = {
                "name": res.name,
                "paused": bool(res.inputs.get("paused")),
                "protect": res.options["protect"],
            }
            summary.setdefault(key, {"registrations": []})["registrations"].append(registration)
    return dict(sorted(summary.items()))


def plan_document(
    result: PlanResult, violations: Sequence[Violation] = (), files: dict[str, str] | None = None
) -> dict[str, Any]:
    """plan.json; `files`: the hosts' config.toml files when the caller has them already."""
    return {
        "project": PROJECT,
        "stack": result.stack,
        "hosts": hosts_summary(result, files),
        "runners": runners_summary(result),
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
            | ({"secretDigests": digests} if (digests := secret_digests(result, r)) else {})
            for r in result.resources
        ],
        "lookups": result.invokes,
        "outputs": result.outputs,
        "warnings": result.warnings,
        "policies": [
            {"rule": v.rule, "resource": v.resource, "message": v.message, "mandatory": v.mandatory}
            | ({"exempt": True} if v.exempt else {})
            for v in violations
        ],
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


def replaceable(out: Path) -> str | None:
    """Why `out` must not be replaced by a plan (None when it may): only a missing or empty directory, or an
    earlier plan's output (it holds plan.json), is replaced whole. A symbolic link is never followed, neither to
    delete what it points at nor to write there (a link planted where a pipeline writes its plan would aim the
    deletion anywhere); nor is a plan.json that is a link taken as the mark of an earlier plan."""
    try:
        mode = out.lstat().st_mode
        if not stat.S_ISDIR(mode):
            return _not_a_directory(out, mode)
        empty = not any(out.iterdir())
        marked = not (out / "plan.json").is_symlink() and (out / "plan.json").is_file()
    except FileNotFoundError:
        return None
    except OSError as exc:  # a parent that is a file, no permission, a name too long
        return f"{out} cannot be examined ({exc.strerror})"
    if not empty and not marked:
        return f"{out} is not empty and holds no plan.json: refusing to replace it"
    return None


def _not_a_directory(out: Path, mode: int) -> str:
    if stat.S_ISLNK(mode):
        return f"{out} is a symbolic link: refusing to follow it (give the directory itself)"
    return f"{out} is a file, not a directory"


def write(result: PlanResult, out: Path, violations: Sequence[Violation] = ()) -> dict[str, Any]:
    """Replace `out` with the report (see `replaceable`); returns the plan document it wrote (plan.json)."""
    problem = replaceable(out)
    if problem is not None:
        raise ValueError(problem)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    files = config_files(result)
    document = plan_document(result, violations, files)
    (out / "plan.json").write_text(json.dumps(document, indent=2, sort_keys=False) + "\n")
    (out / "imports.sh").write_text(imports.script(result))
    (out / "tree.txt").write_text(tree(result) + "\n")
    for host, text in files.items():
        (out / "hosts" / host).mkdir(parents=True, exist_ok=True)
        (out / "hosts" / host / "config.toml").write_text(text)
    for host, objects in manifests(result).items():
        (out / "hosts" / host).mkdir(parents=True, exist_ok=True)
        (out / "hosts" / host / "manifests.yaml").write_text(
            yaml.dump_all(objects, Dumper=_DUMPER, sort_keys=False, default_flow_style=False)
        )
    return document
