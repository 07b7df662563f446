"""Labels that mark what runner-fleet declares, on Docker containers and volumes and on Kubernetes objects.

The plan report finds a host's config.toml and manager by these labels, so they are defined once, here, with
the one port the policies also need (this module imports nothing but the pure `domain.generation`, so the CrossGuard
pack can load it).

A Docker manager's container, config volume, writer and reloader are named per generation
(`domain/generation.py`): `<base>-<generation>[-config|-config-writer|-config-reloader]`, so that a successor never
takes a name the draining manager holds. The network and the CA volume are the host's, shared by generations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from components.domain import fleeting
from components.domain.generation import DIRECT, METRICS_BIND, ManagerInputs

if TYPE_CHECKING:
    from components.domain.model import ManagerSpec

STACK = "runner-fleet.io/stack"
"""Label: the Pulumi stack that declared the object."""
HOST = "runner-fleet.io/host"
"""Label: the host key the object belongs to."""
ROLE = "runner-fleet.io/role"
"""Label (Docker): what a container or volume is for; one of the roles below."""

ROLE_MANAGER = "manager"
"""The gitlab-runner manager container."""
ROLE_CONFIG_WRITER = "config-writer"
"""The never-started container that uploads config.toml into the config volume."""
ROLE_CONFIG = "config"
"""The manager's config volume."""
ROLE_NETWORK = "manager-network"
"""The manager's own network, which no job joins."""
ROLE_CONFIG_RELOADER = "config-reloader"
"""The short-lived container that tells the manager to reload config.toml (SIGHUP) after each upload."""
GENERATION = "runner-fleet.io/generation"
"""Label (Docker): the manager generation a container or config volume belongs to (`domain/generation.py`)."""
AUTOSCALER = "runner-fleet.io/autoscaler"
"""Label (Docker manager with docker-autoscaler runners): the digest of what only its restart applies; such a
manager is replaced delete-first (two managers must never scale one instance group)."""
CONFIG_DIGEST = "runner-fleet.io/config-digest"
"""Label (Docker reloader): the digest of the config.toml and CA it made the manager reload."""
ROLE_GITLAB_CA = "gitlab-ca"
"""The volume that holds only the GitLab CA, which job containers mount read-only."""

METRICS_PORT = 9252
"""The manager's Prometheus, health and debug listener (config.toml `listen_address`), inside its container or
pod; what publishes or fences it is the host's business (docker_host, render/manifests)."""

MANAGED_BY = "runner-fleet"
"""Value of app.kubernetes.io/managed-by."""


def label_of(inputs: Mapping[str, Any], label: str) -> str | None:
    """The value of `label` among a declared Docker object's labels (`[{label, value}]`, as plans and states hold
    them); None without it."""
    for entry in inputs.get("labels") or []:
        if isinstance(entry, Mapping) and entry.get("label") == label:
            return str(entry.get("value"))
    return None


def object_name(host_key: str) -> str:
    """A Kubernetes object name (DNS label) from the host key; unique because each host owns its namespaces."""
    return "gitlab-runner-" + re.sub(r"[^a-z0-9-]+", "-", host_key.lower()).strip("-")


def container_name(stack: str, host_key: str) -> str:
    """The base of a Docker host's object names (before generations, the manager container's own name)."""
    return f"gitlab-runner-{stack}-{host_key}"


def manager_name(stack: str, host_key: str, generation: str) -> str:
    """The Docker manager container of one generation."""
    return f"{container_name(stack, host_key)}-{generation}"


def config_volume_name(stack: str, host_key: str, generation: str) -> str:
    """The Docker volume of one generation's config directory (config.toml, `.runner_system_id`)."""
    return f"{manager_name(stack, host_key, generation)}-config"


def network_name(stack: str, host_key: str) -> str:
    """The manager's own Docker network, which no job joins; every generation joins it."""
    return f"{container_name(stack, host_key)}-manager"


def config_writer_name(stack: str, host_key: str, generation: str) -> str:
    """The never-started Docker container that uploads config.toml into one generation's config volume."""
    return f"{manager_name(stack, host_key, generation)}-config-writer"


def config_reloader_name(stack: str, host_key: str, generation: str) -> str:
    """The short-lived Docker container that makes one generation's manager reload config.toml."""
    return f"{manager_name(stack, host_key, generation)}-config-reloader"


def manager_labels(stack: str, host_key: str, role: str) -> tuple[tuple[str, str], ...]:
    """The labels of a Docker host's object (stack, host, role), sorted, without the generation."""
    return tuple(sorted({STACK: stack, HOST: host_key, ROLE: role}.items()))


def manager_inputs(manager: ManagerSpec) -> ManagerInputs:
    """What forces the replacement of a Docker host's manager container, as docker_host declares it; its
    `.generation` names the host's manager objects."""
    proxy = manager.host.proxy
    labels = manager_labels(manager.stack, manager.host.key, ROLE_MANAGER)
    # What only a restart applies to autoscaled runners (plugin, capacity, plugin settings): a new generation.
    restart = fleeting.restart_digest(manager)
    return ManagerInputs(
        image=manager.host.runner_image,
        network=network_name(manager.stack, manager.host.key),
        labels=tuple(sorted((*labels, (AUTOSCALER, restart)))) if restart else labels,
        ports=((METRICS_PORT, METRICS_BIND, "tcp"),),
        envs=tuple(f"{k}={v}" for k, v in proxy.environment(DIRECT)) if proxy else (),
        entrypoints=tuple(fleeting.manager_entrypoint(manager) or ()),
        command=tuple(fleeting.manager_command(manager) or ()),
    )


def ca_volume_name(stack: str, host_key: str) -> str:
    """The Docker volume that holds only the GitLab CA, mounted read-only into job containers."""
    return f"{container_name(stack, host_key)}-{ROLE_GITLAB_CA}"


def ca_secret_name(host_key: str) -> str:
    """The job namespace's Secret that holds only the GitLab CA, mounted read-only into job pods."""
    return f"{object_name(host_key)}-{ROLE_GITLAB_CA}"
