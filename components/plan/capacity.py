"""Capacity through a change: per host, how many managers take jobs at each step of `pulumi up`, the lowest
number and for how long, and which managers overlap while an old one drains (impact.json `hosts.<h>.capacity`).

A manager stops taking jobs when it is told to stop (gitlab-runner's SIGQUIT) and then only finishes its running
ones, so a draining manager counts for nothing. Step order comes from the engine and the provider semantics
(`reference/provider-semantics.json`), never from resource names:
- a replacement is delete-before-replace when the program's `deleteBeforeReplace` option says true, and
  create-before-delete when it says false (the option overrides the provider in both directions); when the
  program left it unset (`null`), the provider's own rule decides (Docker containers: always delete-first; named
  Kubernetes objects that keep their name: delete-first; otherwise create-first);
- a resource that left the program is deleted after every create and update of the run, so a manager whose
  successor is a new resource on the same host (a new name per generation) overlaps with it;
- a Deployment whose pod template changes rolls: at most `maxUnavailable` pods of its replicas are down at once
  (Kubernetes' default 25%, rounded down; `Recreate` stops them all first).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from components.render import labels as marks

DOCKER_CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_DEFAULT_MAX_UNAVAILABLE = "25%"
"""apps/v1 DeploymentStrategy's default (https://kubernetes.io/docs/concepts/workloads/controllers/deployment/)."""


def duration(seconds: int) -> str:
    """`2 h 5 min`, `1 min 30 s`, `45 s`: how long a drain may last, as a reviewer reads it."""
    hours, rest = divmod(max(0, int(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h" if hours else "", f"{minutes} min" if minutes else "", f"{secs} s" if secs else ""]
    return " ".join(p for p in parts if p) or "0 s"


def label(resource: Mapping[str, Any]) -> str:
    """What a reviewer finds on the host: the container's name, or the Deployment's namespace/name."""
    inputs = resource.get("inputs", {})
    if resource["type"] == DEPLOYMENT:
        meta = inputs.get("metadata") or {}
        return f"deployment {meta.get('namespace', '?')}/{meta.get('name', resource['name'])}"
    return str(inputs.get("name") or resource["name"])


def replicas(resource: Mapping[str, Any]) -> int:
    """The managers one resource runs: a container is one, a Deployment its replicas (default 1)."""
    if resource["type"] != DEPLOYMENT:
        return 1
    return int((resource.get("inputs", {}).get("spec") or {}).get("replicas") or 1)


def _scaled(value: Any, total: int, *, up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = total * float(value[:-1]) / 100
        return math.ceil(share) if up else math.floor(share)
    return int(value or 0)


def _rolling(resource: Mapping[str, Any]) -> tuple[int, int]:
    """(pods down at once, extra pods at once) while a Deployment rolls: maxUnavailable (rounded down) and
    maxSurge (rounded up) of its replicas; Recreate stops them all first."""
    spec = resource.get("inputs", {}).get("spec") or {}
    strategy = spec.get("strategy") or {}
    count = replicas(resource)
    if strategy.get("type") == "Recreate":
        return count, 0
    rolling = strategy.get("rollingUpdate") or {}
    unavailable = _scaled(rolling.get("maxUnavailable", K8S_DEFAULT_MAX_UNAVAILABLE), count, up=False)
    surge = _scaled(rolling.get("maxSurge", K8S_DEFAULT_MAX_UNAVAILABLE), count, up=True)
    return min(count, unavailable), surge


def delete_first(step: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any], semantics: Any) -> bool:
    """Whether the engine deletes the old resource before it creates its replacement."""
    option = (new.get("options") or {}).get("deleteBeforeReplace")
    if option is not None:
        return bool(option)  # the program's option wins in both directions (engine step_generator.go)
    rule = semantics["resources"].get(step["type"], {}).get("deleteBeforeReplace", True)
    if rule == "when-named":
        if step["type"].startswith("kubernetes:"):
            before, after = (r.get("inputs", {}).get("metadata") or {} for r in (old, new))
            same = (before.get("name"), before.get("namespace")) == (after.get("name"), after.get("namespace"))
            return bool(after.get("name")) and same
        return bool(new.get("inputs", {}).get("name"))
    return bool(rule)


Managed = tuple[Mapping[str, Any] | None, Mapping[str, Any] | None, Mapping[str, Any] | None]
"""(its step or None, its old resource or None, its new resource or None): one manager resource of a host."""


def host_capacity(
    managers: Sequence[Managed], semantics: Any, drain_of: Callable[[Mapping[str, Any]], int]
) -> dict[str, Any]:
    """Capacity of one host through the change; `drain_of(resource)`: its drain in seconds."""
    found: dict[str, Any] = {"stoppedFirst": [], "overlaps": [], "rolled": [], "drained": []}
    down = extra = 0
    created = [new for _, old, new in managers if old is None and new is not None]
    for step, old, new in managers:
        if old is not None and (new is None or (step is not None and step["action"] == "replace")):
            found["drained"].append({"name": label(old), "drainSeconds": drain_of(old)})
        if step is None or old is None or new is None:
            continue
        if step["action"] == "replace" and delete_first(step, old, new, semantics):
            down += replicas(old)
            found["stoppedFirst"].append({"name": label(old), "drainSeconds": drain_of(old), "why": _why_first(new)})
        elif step["action"] == "replace":
            extra += replicas(new)
            found["overlaps"].append({"successor": label(new), "draining": label(old), "drainSeconds": drain_of(old)})
        elif step["type"] == DEPLOYMENT and "spec" in step["changed"]:
            unavailable, surge = _rolling(new)
            down, extra = down + unavailable, extra + surge
            found["rolled"].append({"name": label(new), "drainSeconds": drain_of(old), "unavailable": unavailable})
    for old in (o for _, o, n in managers if n is None and o is not None):
        # A resource that left the program is deleted after every create of the run: its successors start first.
        found["overlaps"] += [
            {"successor": label(new), "draining": label(old), "drainSeconds": drain_of(old)} for new in created
        ]
    before = sum(replicas(old) for _, old, _ in managers if old is not None)
    after = sum(replicas(new) for _, _, new in managers if new is not None)
    during = before - down
    lowest = min(during, after) if before else after
    longest = max(
        [d["drainSeconds"] for d in found["stoppedFirst"]]
        + [r["drainSeconds"] for r in found["rolled"] if r["unavailable"]],
        default=0,
    )
    return found | {
        "before": before,
        "after": after,
        "peak": max(before, before - down + extra, after),
        "lowest": max(lowest, 0),
        # How long the lowest lasts: a drain when it comes from stopping managers first; for good when fewer stay.
        "lowestForSeconds": longest if before and during < after else None,
    }


def _why_first(resource: Mapping[str, Any]) -> str | None:
    """Why the program replaces this manager delete-first on purpose, when it does."""
    if marks.label_of(resource.get("inputs", {}), marks.AUTOSCALER) is not None:
        return (
            "docker-autoscaler runners: two managers must never scale one instance group, and a starting manager "
            "removes the group's instances"
        )
    return None


def sentence(capacity: Mapping[str, Any]) -> str | None:
    """What happens to a host's managers, in one line, or None when every one keeps taking jobs untouched."""
    before, after, lowest = capacity["before"], capacity["after"], capacity["lowest"]
    if not (capacity["drained"] or capacity["rolled"] or before != after):
        return None
    drained = ", ".join(d["name"] for d in capacity["drained"]) or "its manager"
    if after == 0:
        return f"NO MANAGER from now on: the host is removed ({drained} drains and stops); capacity 0"
    if before == 0:
        return f"0 → {after} manager(s): a new host"
    parts = [
        f"{s['name']} is stopped before its successor starts (delete-before-replace"
        f"{': ' + s['why'] if s.get('why') else ''}) and drains up to {duration(s['drainSeconds'])}"
        for s in capacity["stoppedFirst"]
    ]
    parts += [
        f"{o['successor']} starts first; {o['draining']} takes jobs beside it until the end of the run (limit and "
        f"concurrent count per manager), then drains up to {duration(o['drainSeconds'])}"
        for o in capacity["overlaps"]
    ]
    parts += [
        f"{r['name']} rolls ({r['unavailable']} pod(s) down at once; old pods drain up to "
        f"{duration(r['drainSeconds'])})"
        for r in capacity["rolled"]
    ]
    if lowest == 0:
        return (
            f"NO MANAGER TAKES JOBS for up to {duration(capacity['lowestForSeconds'] or 0)}: "
            f"{'; '.join(parts)}; capacity 0"
        )
    return f"{before} → {capacity['peak']} managers: {'; '.join(parts)}; never fewer than {lowest}"
