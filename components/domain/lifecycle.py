"""How long the engine waits for a manager: timeouts that cover its drain, as Pulumi duration strings. Pure.

The providers bound every create, update and delete by a timeout (Docker containers 20 minutes, Kubernetes
objects 10 minutes: `reference/provider-semantics.json`), and a delete runs with the timeouts of the *old* state.
A manager asked to drain for longer than that would be cut off mid-drain, so each manager (the Docker container,
the Deployment and the namespaces whose deletion waits for its pod) carries `customTimeouts` whose delete covers
its drain plus DELETE_MARGIN_SECONDS. Because the old state's values are used, a new drain protects a replacement
only once one `pulumi up` has recorded it (the README says so).
"""

from __future__ import annotations

from dataclasses import dataclass

DELETE_MARGIN_SECONDS = 300
"""Seconds beyond the drain for the rest of a delete: removing the container or pod and its volumes."""
CREATE_UPDATE_SECONDS = 600
"""Seconds a create or an in-place update of a manager may take (an image pull, a rollout becoming available)."""
MANAGER_STOP_TIMEOUT = 3660
"""The Docker manager's own stop timeout (`docker stop` without -t, engine shutdown): GitLab's default job
timeout plus the drain margin. A constant on purpose: the container's stop timeout forces a replacement when it
changes, so it must not follow the runners; runner-fleet's own stops use the host's drain (destroyGraceSeconds)."""


def duration(seconds: int) -> str:
    """`seconds` as a Pulumi (Go) duration string: 3960 -> "1h6m", 600 -> "10m", 45 -> "45s"."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"


@dataclass(frozen=True)
class Timeouts:
    """customTimeouts of one resource, as Pulumi duration strings."""

    create: str
    """How long a create may take."""
    update: str
    """How long an in-place update may take."""
    delete: str
    """How long a delete may take: the drain plus DELETE_MARGIN_SECONDS for a manager."""


def manager_timeouts(drain_seconds: int) -> Timeouts:
    """The timeouts of anything whose deletion waits for a manager to drain."""
    return Timeouts(
        create=duration(CREATE_UPDATE_SECONDS),
        update=duration(CREATE_UPDATE_SECONDS),
        delete=duration(drain_seconds + DELETE_MARGIN_SECONDS),
    )
