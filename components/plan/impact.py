"""What a change does: an earlier plan (`--compare BASE_DIR`) against this one, step by step, as the real providers
and the Pulumi engine would apply it, and what that means for each host's manager and each runner's registration.

The mock engine knows nothing of replacements, so every decision here comes from the vendored provider semantics
(`reference/provider-semantics.json`): an input change at or below a `replaceOnChange` path replaces the resource
(subject to its `replaceConditions`), any other change updates it in place; the engine refuses to replace a
resource protected before and after, and to delete a resource protected in the state. Secret inputs are compared
by the digests plan.json carries (`secretDigests`), never by their values.

The result is `impact.json` (shape in the README, "What a change does to running jobs") and `impact.md`.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from components.plan import capacity, config_diff, impact_report, risks
from components.render import labels as marks

ROOT = Path(__file__).resolve().parents[2]
SEMANTICS = ROOT / "reference" / "provider-semantics.json"
MISSING = object()
NATIVE_REPLACE = ["metadata.name", "metadata.namespace"]

DOCKER_CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
USER_RUNNER = "gitlab:index/userRunner:UserRunner"
HOST_COMPONENTS = ("runner-fleet:docker_host:DockerRunnerHost", "runner-fleet:kubernetes_host:KubernetesRunnerHost")
REGISTRATION = "runner-fleet:registration:RunnerRegistration"
RETIRING = risks.RETIRING


@functools.cache
def semantics() -> dict[str, Any]:
    """The vendored provider semantics."""
    loaded: dict[str, Any] = json.loads(SEMANTICS.read_text())
    return loaded


def rules_for(resource_type: str) -> dict[str, Any]:
    """The provider's rules for a resource type. Every type runner-fleet declares has them (tested), but for the
    Prometheus Operator's kinds beyond ServiceMonitor, which follow the native provider's rule for every object:
    a new name or namespace replaces it, anything else updates it in place."""
    resources = semantics()["resources"]
    if resource_type not in resources and resource_type.startswith("kubernetes:monitoring.coreos.com/"):
        return dict(resources["kubernetes:monitoring.coreos.com/v1:ServiceMonitor"], replaceOnChange=NATIVE_REPLACE)
    rules: dict[str, Any] = resources[resource_type]
    return rules


def _at(inputs: Mapping[str, Any], path: str) -> Any:
    node: Any = inputs
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return node


def _compared(resource: Mapping[str, Any]) -> dict[str, Any]:
    """A resource's inputs as compared: secret inputs replaced by their digests."""
    return {**resource.get("inputs", {}), **{k: ("secret", d) for k, d in resource.get("secretDigests", {}).items()}}


def changed_keys(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Top-level input keys whose value differs (added or removed keys included), but for those the program tells
    the engine to ignore (`ignoreChanges`: the old value stays)."""
    old, now = _compared(base), _compared(new)
    ignored = set(new.get("options", {}).get("ignoreChanges") or [])
    return sorted(k for k in set(old) | set(now) if k not in ignored and old.get(k, MISSING) != now.get(k, MISSING))


def forced_by(resource_type: str, base: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """The replaceOnChange paths whose value differs, as the provider decides (with its conditions)."""
    rules = rules_for(resource_type)
    old, now = _compared(base), _compared(new)
    ignored = set(new.get("options", {}).get("ignoreChanges") or [])
    forced = []
    for path in (p for p in rules["replaceOnChange"] if p.split(".")[0] not in ignored):
        before, after = _at(old, path), _at(now, path)
        if before == after:
            continue
        condition = rules.get("replaceConditions", {}).get(path, "")
        if condition.startswith("RequiresReplaceIfConfigured") and after is MISSING:
            continue  # removing it from the program keeps the old value
        forced.append(path)
    return forced


def _blocked(action: str, base: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> dict[str, str] | None:
    was = bool(base and base.get("options", {}).get("protect"))
    stays = bool(new and new.get("options", {}).get("protect"))
    if action == "delete" and was:
        return {
            "reason": "it is protected: the engine refuses to delete a protected resource",
            "fix": "first apply the stack with protect: false while it still declares this resource (one pulumi up), "
            "then remove it (README: Decommissioning)",
        }
    if action == "replace" and was and stays and semantics()["engine"]["protectBlocksReplace"]:
        return {
            "reason": "it is protected: the engine refuses to replace a resource that stays protected",
            "fix": "apply this change with protect: false (the replacement then proceeds), then set protect again",
        }
    return None


def _managed(resource: Mapping[str, Any]) -> bool:
    """Resources the providers create: not components, not the provider objects themselves (their changes are
    not modelled: a provider whose connection settings change is replaced, and so is everything it manages)."""
    return bool(resource.get("custom", True)) and not str(resource["type"]).startswith("pulumi:providers:")


def steps(base: Iterable[Mapping[str, Any]], new: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every custom resource created, updated, replaced or deleted, by URN."""
    old = {r["urn"]: r for r in base if _managed(r)}
    now = {r["urn"]: r for r in new if _managed(r)}
    out = []
    for urn in sorted(set(old) | set(now)):
        before, after = old.get(urn), now.get(urn)
        resource = after or before
        assert resource is not None
        if before is None or after is None:
            action, changed, forced = ("create" if before is None else "delete"), [], []
        else:
            changed = changed_keys(before, after)
            if not changed:
                continue
            forced = forced_by(resource["type"], before, after)
            action = "replace" if forced else "update"
        step = {
            "type": resource["type"],
            "name": resource["name"],
            "action": action,
            "changed": changed,
            "forcedBy": forced,
            "blocked": _blocked(action, before, after),
            "urn": urn,
        }
        if action == "replace" and before is not None and after is not None:
            first = capacity.delete_first(step, before, after, semantics())
            step["order"] = "delete-before-replace" if first else "create-before-delete"
        out.append(step)
    return out


def _owner(urn: str, component_types: tuple[str, ...], prefix: str) -> str | None:
    """The key of the component (host or registration) a resource belongs to, from its parent URN."""
    qualified, _, name = urn.rpartition("::")
    if qualified.rsplit("$", 1)[-1] in component_types and name.startswith(prefix):
        return name.removeprefix(prefix)
    return None


def _role(resource: Mapping[str, Any]) -> str | None:
    return marks.label_of(resource.get("inputs", {}), marks.ROLE)


def _is_manager(resource: Mapping[str, Any]) -> bool:
    return resource["type"] == DEPLOYMENT or (
        resource["type"] == DOCKER_CONTAINER and _role(resource) == marks.ROLE_MANAGER
    )


def _drain(resource: Mapping[str, Any]) -> int:
    """The seconds a manager may drain, as its (old) resource declares them."""
    inputs = resource.get("inputs", {})
    if resource["type"] == DEPLOYMENT:
        return int(_at(inputs, "spec.template.spec.terminationGracePeriodSeconds") or 0)
    return int(inputs.get("destroyGraceSeconds") or inputs.get("stopTimeout") or 0)


def _effect(effect: str, why: str, drain: int = 0) -> dict[str, Any]:
    return {"effect": effect, "drainSeconds": drain, "why": why}


def _manager_effect(step: Mapping[str, Any], resource: Mapping[str, Any]) -> dict[str, Any] | None:
    """What a step of the manager itself does to its jobs, or None when it does nothing to them."""
    if step["action"] == "create":
        return _effect("none", "new host: its manager starts")
    if step["action"] in ("replace", "delete"):
        forced = f" ({', '.join(step['forcedBy'])} changed)" if step["forcedBy"] else ""
        what = "replaced" if step["action"] == "replace" else "removed"
        if step.get("order") == "create-before-delete":
            how = "its successor starts first, then the old one stops taking jobs and finishes the running ones"
        elif step["action"] == "replace":
            how = "the old one stops taking jobs and finishes the running ones BEFORE its successor starts"
        else:
            how = "it stops taking jobs and finishes the running ones"
        return _effect("drain", f"manager {what}{forced}: {how}", _drain(resource))
    if step["type"] == DEPLOYMENT and "spec" in step["changed"]:
        return _effect(
            "roll", "the pod template changes: a new manager pod starts, the old one drains", _drain(resource)
        )
    return None


def _host_effect(
    host_steps: list[dict[str, Any]],
    resources: Mapping[str, Mapping[str, Any]],
    manager: Mapping[str, Any] | None,
    new_token: bool,
) -> dict[str, Any]:
    """none / reload / drain / roll for one host, from its resources' steps and its runners' new tokens (the mock
    engine's tokens never change, a real new registration's do: config.toml changes with them)."""
    effects = [
        effect
        for step in host_steps
        if _is_manager(resources[step["urn"]]) and (effect := _manager_effect(step, resources[step["urn"]])) is not None
    ]
    # A manager deleted beside a new one (a successor under a new name) drains: that outweighs the new one.
    for effect in sorted(effects, key=lambda e: e["effect"] == "none"):
        return effect
    if new_token and manager is not None and manager["type"] == DEPLOYMENT:
        why = "a new token changes config.toml: a new manager pod starts, the old one drains"
        return _effect("roll", why, _drain(manager))
    writer = [s for s in host_steps if _role(resources[s["urn"]]) == marks.ROLE_CONFIG_WRITER]
    if writer or new_token:
        return _effect("reload", "config.toml changes; the running manager reloads it, no job is touched")
    manager_updates = [s for s in host_steps if _is_manager(resources[s["urn"]]) and s["action"] == "update"]
    if manager_updates:
        changed = ", ".join(sorted({k for s in manager_updates for k in s["changed"]}))
        return _effect("none", f"the manager is updated in place ({changed}); no job is touched")
    if host_steps:
        names = ", ".join(sorted({s["name"] for s in host_steps}))
        return _effect("none", f"only objects beside the manager change ({names})")
    return _effect("none", "nothing of the manager or its config changes")


def _runner_effect(runner_steps: list[dict[str, Any]], resources: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """added / removed / new-token (its active registration is new) / update / none."""
    actions = {s["action"] for s in runner_steps}
    if actions == {"create"} and not any(_retiring(resources[s["urn"]]) for s in runner_steps):
        return {"effect": "added", "why": "a new registration (new token)"}
    if actions == {"delete"} and not any(_retiring(resources[s["urn"]]) for s in runner_steps):
        return {"effect": "removed", "why": "its registration is deleted"}
    active = [s for s in runner_steps if s["action"] in ("create", "replace") and not _retiring(resources[s["urn"]])]
    if active:
        forced = sorted({k for s in active for k in s["forcedBy"]})
        return {"effect": "new-token", "why": f"a new registration takes its jobs ({', '.join(forced) or 'rotation'})"}
    if runner_steps:
        parts = [
            f"{s['name']} {s['action']}d" + (f" ({', '.join(s['changed'])})" if s["changed"] else "")
            for s in runner_steps
        ]
        return {"effect": "update", "why": "; ".join(parts) + "; its current registration and token stay"}
    return {"effect": "none", "why": "unchanged"}


def _retiring(resource: Mapping[str, Any]) -> bool:
    return str(resource.get("inputs", {}).get("description", "")).endswith(RETIRING)


def _runner_keys(document: Mapping[str, Any]) -> set[str]:
    return {
        r["name"].removeprefix("runner-")
        for r in document["resources"]
        if r["type"] == REGISTRATION and r["name"].startswith("runner-")
    }


def _runners_on(document: Mapping[str, Any], host: str) -> set[str]:
    prefix = f"{document['stack']}-"
    return {name.removeprefix(prefix) for name in document["hosts"].get(host, {}).get("runners", {})}


def _host_of(resources: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """URN -> host key, for every resource a host component owns."""
    owned = {}
    for urn, resource in resources.items():
        if (host := _owner(resource.get("parent", ""), HOST_COMPONENTS, "host-")) is not None:
            owned[urn] = host
    return owned


def _registration_changes(
    runner_steps: list[dict[str, Any]], old: Mapping[str, Any], new: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """A registration's settings that change in GitLab only (config.toml does not carry them): before and after."""
    kept = set(semantics()["resources"][USER_RUNNER]["inPlace"])
    found = []
    for step in runner_steps:
        if step["type"] != USER_RUNNER or step["action"] != "update":
            continue
        was, now = old[step["urn"]].get("inputs", {}), new[step["urn"]].get("inputs", {})
        changes = {k: [was.get(k), now.get(k)] for k in step["changed"] if k in kept}
        if changes:
            found.append({"resource": step["name"], "changes": changes})
    return found


def _host_entry(
    effect: dict[str, Any], host_steps: list[dict[str, Any]], managed: list[capacity.Managed]
) -> dict[str, Any]:
    """impact.json `hosts.<host>`: the effect, the names of what is replaced, deleted and drained, the capacity."""
    cap = capacity.host_capacity(managed, semantics(), _drain)
    names = {
        action: sorted(s["name"] for s in host_steps if s["action"] == action)
        for action in ("replace", "delete", "create", "update")
    }
    return effect | {
        "names": {"replaced": names["replace"], "deleted": names["delete"], "created": names["create"]}
        | {"updated": names["update"]},
        "drained": [d["name"] for d in cap["drained"]],
        "capacity": cap,
        "capacityLine": capacity.sentence(cap),
    }


def compare(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    all_steps: list[dict[str, Any]] | None = None,
    configs: tuple[Mapping[str, str], Mapping[str, str]] | None = None,
) -> dict[str, Any]:
    """impact.json for going from the plan document `base` to `new` (both as plan.json holds them); `all_steps`
    are their `steps` when the caller has them already; `configs`: the hosts' config.toml files of both plans
    (`config_diff.read_configs`), for the masked diff each manager will load."""
    all_steps = steps(base["resources"], new["resources"]) if all_steps is None else all_steps
    old_resources = {r["urn"]: r for r in base["resources"]}
    new_resources = {r["urn"]: r for r in new["resources"]}
    resources = old_resources | new_resources
    hosts_of = _host_of(resources)
    by_runner: dict[str, list[dict[str, Any]]] = {}
    by_host: dict[str, list[dict[str, Any]]] = {}
    for step in all_steps:
        if (runner := _owner(resources[step["urn"]].get("parent", ""), (REGISTRATION,), "runner-")) is not None:
            by_runner.setdefault(runner, []).append(step)
        if step["urn"] in hosts_of:
            by_host.setdefault(hosts_of[step["urn"]], []).append(step)
    runners = {
        key: _runner_effect(by_runner.get(key, []), resources) for key in sorted(_runner_keys(base) | _runner_keys(new))
    }
    # A manager is drained with the grace period of the container or pod that runs now (the old one).
    seen = {urn: old_resources.get(urn, r) for urn, r in resources.items()}
    step_of = {s["urn"]: s for s in all_steps}
    managed: dict[str, list[capacity.Managed]] = {}
    for urn, host in hosts_of.items():
        if _is_manager(resources[urn]):
            managed.setdefault(host, []).append((step_of.get(urn), old_resources.get(urn), new_resources.get(urn)))
    hosts, placement = {}, {}
    for host in sorted(set(base["hosts"]) | set(new["hosts"])):
        placed = _runners_on(base, host) | _runners_on(new, host)
        placement.update(dict.fromkeys(placed, host))
        new_token = any(runners.get(r, {}).get("effect") in ("new-token", "added", "removed") for r in placed)
        manager = next((seen[u] for u, h in hosts_of.items() if h == host and _is_manager(seen[u])), None)
        effect = _host_effect(by_host.get(host, []), seen, manager, new_token)
        hosts[host] = _host_entry(effect, by_host.get(host, []), sorted(managed.get(host, []), key=_managed_key))
        hosts[host]["registrations"] = [
            change | {"runner": key}
            for key in sorted(placed)
            for change in _registration_changes(by_runner.get(key, []), old_resources, new_resources)
        ]
    if configs is not None:
        for host, found in config_diff.diffs(*configs).items():
            if host in hosts:
                hosts[host]["configDiff"] = found
    return {
        "resources": [{k: v for k, v in s.items() if k != "urn"} | {"host": hosts_of.get(s["urn"])} for s in all_steps],
        "hosts": hosts,
        "runners": runners,
    }


def _managed_key(managed: capacity.Managed) -> str:
    return str(next(r["urn"] for r in managed[1:] if r is not None))


def warnings(
    base: Mapping[str, Any], new: Mapping[str, Any], all_steps: list[dict[str, Any]] | None = None
) -> list[risks.Risk]:
    """What in the change would cut running jobs short although every step succeeds (components/plan/risks.py)."""
    all_steps = steps(base["resources"], new["resources"]) if all_steps is None else all_steps
    return risks.warnings(base, new, all_steps, semantics())


def markdown(impact: Mapping[str, Any], stack: str, at_risk: Sequence[risks.Risk] = ()) -> str:
    """impact.md (components/plan/impact_report.py)."""
    return impact_report.markdown(impact, stack, at_risk)
