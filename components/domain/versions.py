"""Pinned versions of what the fleet runs, in one place.

Bump the runner and BuildKit lines here (and in the golden files) together; the config schema in `schemas/`
belongs to the runner line pinned below and is found by its name (`render/schema.py`).
- gitlab-runner images: https://hub.docker.com/r/gitlab/gitlab-runner/tags
- rootless BuildKit: https://github.com/moby/buildkit/blob/master/docs/rootless.md
"""

from __future__ import annotations

RUNNER_VERSION = "v19.3.0"
RUNNER_IMAGE = f"gitlab/gitlab-runner:alpine-{RUNNER_VERSION}"

BUILDKIT_VERSION = "v0.32.2"
BUILDKIT_IMAGE = f"moby/buildkit:{BUILDKIT_VERSION}-rootless"

DEFAULT_JOB_IMAGE = "alpine:3.22"

RUNNER_FLOORS: dict[str, tuple[tuple[int, int], str]] = {
    "docker": ((18, 11), "the config keys runner-fleet renders (allowed_pull_policies, security_opt per runner)"),
    "kubernetes": (
        (19, 2),
        "the manager's readiness probe (/health/ready, 19.2) and the build container's security-context keys "
        "(app_armor_profile and the *_container_security_context tables, 18.11)",
    ),
}
"""The oldest gitlab-runner release a manager may run, per executor, and what needs it."""
