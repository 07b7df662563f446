"""The steps `pulumi up` takes from one plan to the next, as the Pulumi engine orders them, for the Docker resources.

An oracle apart from the program: what replaces comes from `reference/provider-semantics.json` (a changed top-level
input that is a replace key, `ignoreChanges` honoured); the order from pkg/resource/deploy/step_generator.go and
deployment_executor.go (pulumi/pulumi 1b594989):
- a replacement is delete-first when the resource option says so, else when the provider asks (containers always;
  volumes and networks whose name the program sets; images never);
- delete-first deletes, before the resource, every old dependent whose *property* dependency on it feeds a replace
  key (calculateDependentReplacements; `depends_on` alone never cascades), dependents first;
- create-first creates the new resource at once and deletes the old one after every create and update of the run
  (performPostSteps), old resources in reverse dependency order (ScheduleDeletes), as are resources that left the
  program.
Registrations are taken in dependency order (a resource registers once its inputs resolve).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.plan.engine import Resource

SEMANTICS = json.loads((Path(__file__).resolve().parents[1] / "reference" / "provider-semantics.json").read_text())
CONTAINER = "docker:index/container:Container"
MANAGER_LABEL = {"label": "runner-fleet.io/role", "value": "manager"}


@dataclass(frozen=True)
class Step:
    op: str
    """create, delete or update."""
    resource: Resource
    """The resource as planned: the new one for a create or update, the old one for a delete."""
    why: str
    """new, replace (create-first), replace (delete-first), cascade, end of run (the deferred delete)."""

    def __str__(self) -> str:
        return f"{self.op} {self.resource.name} ({self.resource.inputs.get('name')}): {self.why}"


def _rules(typ: str) -> dict[str, Any]:
    rules: dict[str, Any] = SEMANTICS["resources"][typ]
    return rules


def replace_keys(old: Resource, new: Resource) -> list[str]:
    """The top-level inputs whose change makes the provider replace `old` by `new` (ignoreChanges honoured)."""
    ignored = set(new.options.get("ignoreChanges") or ())
    keys = set(old.inputs) | set(new.inputs)
    changed = {k for k in keys if k not in ignored and old.inputs.get(k) != new.inputs.get(k)}
    return sorted(changed & set(_rules(new.type)["replaceOnChange"]))


def delete_first(new: Resource) -> bool:
    """Whether a replacement of `new` deletes first: the resource option, else the provider's answer."""
    option = new.options.get("deleteBeforeReplace")
    if option is not None:
        return bool(option)
    provider = _rules(new.type)["deleteBeforeReplace"]
    return "name" in new.inputs if provider == "when-named" else bool(provider)


def ordered(resources: list[Resource]) -> list[Resource]:
    """Dependency order (dependsOn holds resource names); the plan's own order breaks ties."""
    by_name = {r.name: r for r in resources}
    done: list[Resource] = []
    seen: set[str] = set()

    def visit(r: Resource) -> None:
        if r.name not in seen:
            seen.add(r.name)
            for dep in r.options["dependsOn"]:
                if dep in by_name:
                    visit(by_name[dep])
            done.append(r)

    for r in resources:
        visit(r)
    return done


def _cascade(root: Resource, old: dict[str, Resource]) -> list[Resource]:
    """Old dependents deleted with `root` in a delete-first replacement, dependents of dependents first."""
    found: list[Resource] = []

    def visit(target: str) -> None:
        for r in old.values():
            fed = [k for k, deps in r.property_dependencies.items() if target in deps]
            if r not in found and set(fed) & set(_rules(r.type)["replaceOnChange"]):
                visit(r.name)
                found.append(r)

    visit(root.name)
    return found


def steps(before: Iterable[Resource], after: Iterable[Resource]) -> list[Step]:
    """Every step from the resources of `before` to those of `after` (Docker resources, matched by URN)."""
    old = {r.name: r for r in before if r.custom}
    new = ordered([r for r in after if r.custom])
    out: list[Step] = []
    gone: set[str] = set()  # old resources already deleted (a delete-first cascade)
    deferred: list[Resource] = []
    for r in new:
        previous = old.get(r.name)
        if previous is None or previous.name in gone:
            out.append(Step("create", r, "new"))
        elif not replace_keys(previous, r):
            if previous.inputs != r.inputs:
                out.append(Step("update", r, "in place"))
        elif delete_first(r):
            for dependent in _cascade(previous, old):
                if dependent.name not in gone:
                    out.append(Step("delete", dependent, f"cascade of {r.name}"))
                    gone.add(dependent.name)
            out.append(Step("delete", previous, "replace (delete-first)"))
            gone.add(previous.name)
            out.append(Step("create", r, "replace (delete-first)"))
        else:
            out.append(Step("create", r, "replace (create-first)"))
            deferred.append(previous)
    planned = {r.name for r in new}
    deferred += [r for r in old.values() if r.name not in planned and r.name not in gone]
    return out + [Step("delete", r, "end of run") for r in _reverse_dependency_order(deferred)]


def _reverse_dependency_order(condemned: list[Resource]) -> list[Resource]:
    """ScheduleDeletes: a resource goes once nothing left in the set depends on it."""
    left = list(condemned)
    out: list[Resource] = []
    while left:
        free = [r for r in left if not any(r.name in o.options["dependsOn"] for o in left if o is not r)]
        assert free, f"a dependency cycle among {[r.name for r in left]}"
        out += free
        left = [r for r in left if r not in free]
    return out


def is_manager(r: Resource) -> bool:
    return r.type == CONTAINER and MANAGER_LABEL in (r.inputs.get("labels") or [])


def running_managers(before: Iterable[Resource], sequence: list[Step]) -> list[set[str]]:
    """The manager containers running (by container name) after each step, starting from `before` running."""
    running = {str(r.inputs["name"]) for r in before if is_manager(r)}
    seen = []
    for step in sequence:
        if is_manager(step.resource):
            name = str(step.resource.inputs["name"])
            if step.op == "create":
                running.add(name)
            elif step.op == "delete":
                running.discard(name)
        seen.append(set(running))
    return seen
