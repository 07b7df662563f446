"""Test-only helpers over the model, the renderers and a mock-engine run (nothing here ships in components/)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from components.domain.model import FleetSpec, ManagerSpec
from components.domain.targets import KubernetesTarget
from components.plan.engine import PlanResult, Resource
from components.render import admission, config_toml, manifests, schema
from components.spec import parse_spec


def spec_of(values: dict[str, Any], stack: str = "test", secret_keys: tuple[str, ...] = ()) -> FleetSpec:
    return parse_spec(values, stack=stack, secret_keys=secret_keys)


def manager_of(spec: FleetSpec, host_key: str) -> ManagerSpec:
    (manager,) = [m for m in spec.managers if m.host.key == host_key]
    return manager


def kubernetes_target(manager: ManagerSpec) -> KubernetesTarget:
    target = manager.host.target
    if not isinstance(target, KubernetesTarget):
        raise TypeError(f"host {manager.host.key!r} is not a Kubernetes host")
    return target


def rendered(spec: FleetSpec, host_key: str) -> str:
    """A host's config.toml with tokens shown as [secret]."""
    manager = manager_of(spec, host_key)
    return config_toml.render(manager, config_toml.placeholder_tokens(manager))


def objects(spec: FleetSpec, host_key: str, checksum: str = "sha256:" + "0" * 64) -> list[dict[str, Any]]:
    """A Kubernetes host's whole objects in apply order, assembled from the renderer's parts as the component
    declares them (tokens shown as [secret], a fixed checksum unless given)."""
    manager = manager_of(spec, host_key)
    target = kubernetes_target(manager)
    text = config_toml.render(manager, config_toml.placeholder_tokens(manager))
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": manifests.config_secret_metadata(manager, target),
        "type": manifests.SECRET_TYPE,
        "stringData": manifests.config_secret_data(text),
    }
    deployments = [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": manifests.deployment_metadata(manager, target, replica),
            "spec": manifests.deployment_spec(manager, checksum, replica),
        }
        for replica in manifests.replicas(manager)
    ]
    budget = manifests.disruption_budget(manager, target)
    guard = (
        [
            admission.policy(manager, target, manifests.labels(manager)),
            admission.binding(target, manifests.labels(manager)),
        ]
        if admission.applies(target)
        else []
    )
    return [
        manifests.manager_namespace(manager, target),
        manifests.job_namespace(manager, target),
        *guard,
        manifests.service_account(manager, target),
        manifests.role(manager, target),
        manifests.role_binding(manager, target),
        secret,
        manifests.metrics_network_policy(manager, target),
        *deployments,
        *([budget] if budget is not None else []),
        manifests.metrics_service(manager, target),
    ]


def validate_text(text: str) -> list[str]:
    """Every way a config.toml text breaks gitlab-runner's schema, as `path: message`."""
    return [
        f"{'.'.join(map(str, path)) or '<root>'}: {message}" for path, message in schema.errors(tomllib.loads(text))
    ]


def of_kind(objs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def of_type(result: PlanResult, typ: str) -> list[Resource]:
    return [r for r in result.resources if r.type == typ]


def named(result: PlanResult, name: str, typ: str | None = None) -> Resource:
    found = [r for r in result.resources if r.name == name and (typ is None or r.type == typ)]
    if len(found) != 1:
        raise KeyError(f"{len(found)} resources named {name!r} of type {typ or 'any'}")
    return found[0]


def children(result: PlanResult, parent: Resource) -> list[Resource]:
    return [r for r in result.resources if r.parent == parent.urn]


def setter(path: str, value: Any, sep: str = ".") -> Callable[[dict[str, Any]], None]:
    """An edit of stack values that sets the key at `path` (parts joined by `sep`) to `value`."""

    def edit(values: dict[str, Any]) -> None:
        *parents, last = path.split(sep)
        node = values
        for part in parents:
            node = node[part]
        node[last] = value

    return edit


def plan_command(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m components.plan ARGS` as a user runs it, in the project directory (with exactly `env` as its
    environment when given)."""
    root = Path(__file__).resolve().parents[1]
    return subprocess.run(
        [sys.executable, "-m", "components.plan", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
