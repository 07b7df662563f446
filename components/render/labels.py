"""Labels that mark what runner-fleet declares, on Docker containers and volumes and on Kubernetes objects.

The plan report finds a host's config.toml and manager by these labels, so they are defined once, here, with
the one port the policies also need (this module imports nothing, so the CrossGuard pack can load it).
"""

from __future__ import annotations

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

METRICS_PORT = 9252
"""The manager's Prometheus, health and debug listener (config.toml `listen_address`), inside its container or
pod; what publishes or fences it is the host's business (docker_host, render/manifests)."""

MANAGED_BY = "runner-fleet"
"""Value of app.kubernetes.io/managed-by."""
