"""Pinned versions and fixed numbers the fleet is built from, in one place.

Bump the runner and BuildKit lines here (and in the golden files) together; the config schema in
`schemas/` belongs to the runner line pinned below.
- gitlab-runner images: https://hub.docker.com/r/gitlab/gitlab-runner/tags
- rootless BuildKit: https://github.com/moby/buildkit/blob/master/docs/rootless.md
"""

from __future__ import annotations

PROJECT = "runner-fleet"

RUNNER_VERSION = "v19.3.0"
RUNNER_IMAGE = f"gitlab/gitlab-runner:alpine-{RUNNER_VERSION}"

BUILDKIT_VERSION = "v0.32.2"
BUILDKIT_IMAGE = f"moby/buildkit:{BUILDKIT_VERSION}-rootless"
# The images a BuildKit runner may start with seccomp/AppArmor unconfined, unless overridden.
# Both the short and the docker.io forms, since the runner matches the name as written in the job.
BUILDKIT_ALLOWED_IMAGES = (
    "moby/buildkit:*rootless",
    "docker.io/moby/buildkit:*rootless",
)
BUILDKITD_FLAGS = "--oci-worker-no-process-sandbox"
BUILDKIT_UID = 1000  # USER 1000:1000 in moby/buildkit:rootless
BUILDKIT_STATE_DIR = "/home/user/.local/share/buildkit"

DEFAULT_JOB_IMAGE = "alpine:3.22"

METRICS_PORT = 9252
DEFAULT_JOB_TIMEOUT = 3600  # GitLab's default project job timeout, used when maximumTimeout is unset
DRAIN_MARGIN_SECONDS = 60  # after the last job ends: upload logs/artifacts, unregister the manager, exit
MIN_MAXIMUM_TIMEOUT = 600  # GitLab rejects a runner maximum_timeout below 10 minutes
