"""Labels that mark what runner-fleet declares, on Docker containers and volumes and on Kubernetes objects.

The plan report finds a host's config.toml and manager by these labels, so they are defined once, here, with
the one port the policies also need (this module imports nothing, so the CrossGuard pack can load it).
"""

from __future__ import annotations

import re

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
CONFIG_DIGEST = "runner-fleet.io/config-digest"
"""Label (Docker reloader): the digest of the config.toml and CA it made the manager reload."""
ROLE_GITLAB_CA = "gitlab-ca"
"""The volume that holds only the GitLab CA, which job containers mount read-only."""

METRICS_PORT = 9252
"""The manager's Prometheus, health and debug listener (config.toml `listen_address`), inside its container or
pod; what publishes or fences it is the host's business (docker_host, render/manifests)."""

MANAGED_BY = "runner-fleet"
"""Value of app.kubernetes.io/managed-by."""


def object_name(host_key: str) -> str:
    """A Kubernetes object name (DNS label) from the host key; unique because each host owns its namespaces."""
    return "gitlab-runner-" + re.sub(r"[^a-z0-9-]+", "-", host_key.lower()).strip("-")


def container_name(stack: str, host_key: str) -> str:
    """The Docker manager container's name; the host's other Docker objects are named after it."""
    return f"gitlab-runner-{stack}-{host_key}"


def config_volume_name(stack: str, host_key: str) -> str:
    """The Docker volume of the manager's config directory (config.toml, `.runner_system_id`)."""
    return f"{container_name(stack, host_key)}-config"


def network_name(stack: str, host_key: str) -> str:
    """The manager's own Docker network, which no job joins."""
    return f"{container_name(stack, host_key)}-manager"


def config_writer_name(stack: str, host_key: str) -> str:
    """The never-started Docker container that uploads config.toml into the config volume."""
    return f"{container_name(stack, host_key)}-config-writer"


def config_reloader_name(stack: str, host_key: str) -> str:
    """The short-lived Docker container that makes the manager reload config.toml."""
    return f"{container_name(stack, host_key)}-config-reloader"


def ca_volume_name(stack: str, host_key: str) -> str:
    """The Docker volume that holds only the GitLab CA, mounted read-only into job containers."""
    return f"{container_name(stack, host_key)}-{ROLE_GITLAB_CA}"


def ca_secret_name(host_key: str) -> str:
    """The job namespace's Secret that holds only the GitLab CA, mounted read-only into job pods."""
    return f"{object_name(host_key)}-{ROLE_GITLAB_CA}"
