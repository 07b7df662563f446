"""Image references: what Docker accepts as one, what counts as pinned, and what is a rootless BuildKit image.

Shared by the spec (what a stack may name) and the policies (what a plan may run); pure, no Pulumi.
Grammar: distribution/reference (`reference/regexp.go`): `[registry[:port]/]path[:tag][@digest]`, path
components lower-case, a tag at most 128 characters of `[A-Za-z0-9_.-]` not starting with `.` or `-`, the
whole name at most 255 characters.
"""

from __future__ import annotations

import re

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN = r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*(?::[0-9]+)?)"
REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_COMPONENT}(?:/{_COMPONENT})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@sha256:[0-9a-f]{{64}})?"
)
MAX_NAME = 255


_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


def shown(image: str) -> str:
    """How a message quotes an image reference: never one with an '@' that is not its digest, or more ':' than a
    registry port and a tag (`user:password@registry/...`, a password after a tag: a credential would stand there)."""
    name = _DIGEST.sub("", image)
    if "@" in name or name.count(":") > 2:
        return "the value (not repeated: it holds an '@' or a ':' where a credential would stand)"
    return repr(image)


def image_problem(image: str) -> str | None:
    """What Docker would refuse about `image`, or None."""
    name = image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image.split("@", 1)[0]
    if len(name) > MAX_NAME:
        return f"an image name has at most {MAX_NAME} characters"
    first = image.split("/", 1)[0]
    if "/" in image and first != first.lower() and not _is_registry(first):
        refused = f" (Docker refuses {first!r})" if shown(image) == repr(image) else ""
        return f"{shown(image)}: repository names are lower-case{refused}"
    if not REFERENCE.fullmatch(image):
        return (
            f"{shown(image)} is not an image reference Docker accepts: [registry/]path[:tag][@sha256:digest], "
            "lower-case path, a tag of at most 128 letters, digits, '_', '.', '-'"
        )
    return None


# A BuildKit runner's image allow-list: moby's own rootless BuildKit image (Docker Hub, with or without the
# docker.io/ prefix), a tag ending in `rootless` that may use `*` (moby's tags: v0.32.2-rootless), an optional
# digest. Nothing else: any other repository named `buildkit` is anyone's image, and it would run unconfined.
# Under a registry mirror (`registryMirror`), the same image under the mirror's path, and nothing else.
VERSION = re.compile(r"(?:^|[^A-Za-z0-9.])v?\d+\.\d+")
SNAPSHOT = re.compile(r"(?:^|\D)20\d{6}(?:\D|$)")
_ROOTLESS_TAG = r"moby/buildkit:[A-Za-z0-9._*-]*rootless(?:@sha256:[0-9a-f]{64})?"
ROOTLESS_BUILDKIT = re.compile(rf"(?:docker\.io/)?{_ROOTLESS_TAG}")


def is_pinned(image: str) -> bool:
    """A digest, or a tag that names a major.minor version: not `latest`, not missing, no wildcard."""
    if "@sha256:" in image:
        return True
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return False
    tag = last.rsplit(":", 1)[1]
    # A version is major.minor at least, standing on its own (3.22, v0.32.2-rootless, alpine-v19.3.0), or a dated
    # snapshot (noble-20240605). `17`, `stable-1`, `buildx-stable-1-rootless` or `alpine3.21` (the newest runner on
    # Alpine 3.21) move with every release.
    return "*" not in tag and (VERSION.search(tag) is not None or SNAPSHOT.search(tag) is not None)


# --- registry mirrors ------------------------------------------------------------------------------------
# `registryMirror` (host[:port][/path]) serves every image runner-fleet chooses under its upstream path:
# docker.io/gitlab/gitlab-runner -> <mirror>/gitlab/gitlab-runner, registry.gitlab.com/gitlab-org/... ->
# <mirror>/gitlab-org/..., Docker Hub's official images under library/ (alpine -> <mirror>/library/alpine).

MIRROR = re.compile(rf"{_DOMAIN}(?:/{_COMPONENT})*")
UPSTREAM_REGISTRIES = ("docker.io/", "index.docker.io/", "registry-1.docker.io/", "registry.gitlab.com/")
HELPER_REPOSITORY = "registry.gitlab.com/gitlab-org/gitlab-runner/gitlab-runner-helper"
"""Where gitlab-runner's helper images are published (only there since runner 15.0)."""
HELPER_INDEX = "alpine-latest"
"""The helper tag prefix runner-fleet names: `alpine-latest-<release>` is a multi-arch image index of the runner's
default helper (flavour alpine; `x86_64-<release>`, `arm64-<release>`, ... are its single-arch images), so each node
pulls its own architecture. Published with every stable release from 19.2.0 on: the release job pushes helper
images with `scripts/pusher -gen-indexes helper-images.json`, which joins tags that differ only in architecture
(`alpine-latest-x86_64-%`, `alpine-latest-arm64-%`, ...) into one index (`alpine-latest-%`, scripts/pusher/indexes.go).
gitlab-runner itself has no placeholder for the architecture in `helper_image` (it only expands job variables), and
no setting for the helper's registry; left unset, the docker executor picks the helper by the engine's architecture
but the kubernetes executor takes amd64 unless the job node selector names `kubernetes.io/arch`
(helpers/container/helperimage/linux_info.go, executors/kubernetes/kubernetes.go `retrieveHelperImageConfig`)."""
HELPER_INDEX_SINCE = (19, 2)
"""The first gitlab-runner release whose helper images have the multi-arch `HELPER_INDEX` tag."""
MAX_MIRROR = MAX_NAME - len("/gitlab-org/gitlab-runner/gitlab-runner-helper")
RUNNER_VERSION_TAG = re.compile(r"(?:^|-)(v\d+\.\d+\.\d+)$")
"""A gitlab-runner image tag that names its exact release: v19.3.0, alpine-v19.3.0, ubuntu-v19.3.0."""


def _is_registry(component: str) -> bool:
    """Docker reads a first path component as a registry host when it has a '.' or a ':' or is localhost."""
    return "." in component or ":" in component or component == "localhost"


def mirror_problem(mirror: str) -> str | None:
    """What is wrong with `mirror` as a registry mirror (host[:port][/path]), or None."""
    if "://" in mirror:
        return "write the registry without a scheme: registry.example.com[:port][/path]"
    if not MIRROR.fullmatch(mirror) or not _is_registry(mirror.split("/", 1)[0]):
        return (
            "expected a registry host with a '.' or a port (or localhost), then an optional lower-case path: "
            "registry.example.com[:port][/path], no tag, no trailing '/'"
        )
    if len(mirror) > MAX_MIRROR:
        return f"at most {MAX_MIRROR} characters (image names have at most {MAX_NAME})"
    port = mirror.split("/", 1)[0].partition(":")[2]
    if port and not 0 < int(port) < 65536:
        return f"port {port} is not a TCP port (1-65535)"
    return None


def mirrored(image: str, mirror: str | None) -> str:
    """`image` (an upstream reference runner-fleet chooses) as served by `mirror`; itself without a mirror."""
    if mirror is None:
        return image
    path = next((image.removeprefix(r) for r in UPSTREAM_REGISTRIES if image.startswith(r)), image)
    if _is_registry(path.split("/", 1)[0]) and "/" in path:
        raise ValueError(f"{image!r} is not an upstream image runner-fleet chooses")
    name = path.split("@", 1)[0].split(":", 1)[0]
    return f"{mirror}/{path if '/' in name else 'library/' + path}"


def runner_version(runner_image: str) -> str | None:
    """The exact gitlab-runner release an image's tag names (v19.3.0), or None (a digest alone, `latest`)."""
    last = runner_image.split("@", 1)[0].rsplit("/", 1)[-1]
    found = RUNNER_VERSION_TAG.search(last.rsplit(":", 1)[1]) if ":" in last else None
    return found.group(1) if found else None


def release(version: str) -> tuple[int, int]:
    """major.minor of a runner release tag (v19.3.0 -> (19, 3))."""
    major, minor = version.removeprefix("v").split(".")[:2]
    return int(major), int(minor)


def helper_image(runner_image: str, mirror: str | None, *, kubernetes: bool = False) -> str | None:
    """The helper image jobs get, at the manager's exact release, multi-arch (`HELPER_INDEX`): from the mirror
    under one, upstream on Kubernetes (whose executor would otherwise assume amd64 nodes); None for a Docker host
    without a mirror (the runner then picks its own release's helper by the engine's architecture), or when the
    image names no release, or a release older than HELPER_INDEX_SINCE (the spec refuses both under a mirror, and
    the latter on Kubernetes, but still renders the config to report every problem at once)."""
    version = runner_version(runner_image)
    if version is None or (mirror is None and not kubernetes) or release(version) < HELPER_INDEX_SINCE:
        return None
    return mirrored(f"{HELPER_REPOSITORY}:{HELPER_INDEX}-{version}", mirror)


def rootless_buildkit(mirror: str | None) -> re.Pattern[str]:
    """The BuildKit images a BuildKit runner may run: moby's rootless image upstream, or under the mirror only."""
    return ROOTLESS_BUILDKIT if mirror is None else re.compile(rf"{re.escape(mirror)}/{_ROOTLESS_TAG}")


def buildkit_allowed_images(mirror: str | None) -> tuple[str, ...]:
    """A BuildKit runner's default allow-list; both the short and the docker.io form upstream, since
    gitlab-runner matches the name as the job writes it."""
    if mirror is None:
        return ("moby/buildkit:*rootless", "docker.io/moby/buildkit:*rootless")
    return (f"{mirror}/moby/buildkit:*rootless",)


def mirror_of_helper(helper: str) -> str | None:
    """The mirror a rendered `helper_image` names (for the policies, which read config.toml alone), or None (none, or
    the upstream helper that Kubernetes hosts without a mirror name)."""
    repository = HELPER_REPOSITORY.removeprefix("registry.gitlab.com")
    name = helper.split("@", 1)[0].rsplit(":", 1)[0]
    return name.removesuffix(repository) if name.endswith(repository) and name != HELPER_REPOSITORY else None
