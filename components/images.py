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


def image_problem(image: str) -> str | None:
    """What Docker would refuse about `image`, or None."""
    name = image.split("@", 1)[0].rsplit(":", 1)[0] if ":" in image.split("/")[-1] else image.split("@", 1)[0]
    if len(name) > MAX_NAME:
        return f"an image name has at most {MAX_NAME} characters"
    if not REFERENCE.fullmatch(image):
        return (
            f"{image!r} is not an image reference Docker accepts: [registry/]path[:tag][@sha256:digest], lower-case "
            "path, a tag of at most 128 letters, digits, '_', '.', '-'"
        )
    return None


# A BuildKit runner's image allow-list: moby's own rootless BuildKit image (Docker Hub, with or without the
# docker.io/ prefix), a tag ending in `rootless` that may use `*` (moby's tags: v0.32.2-rootless), an optional
# digest. Nothing else: any other repository named `buildkit` is anyone's image, and it would run unconfined.
# (Registry mirrors come with their own checked key, not with a looser pattern.)
VERSION = re.compile(r"(?:^|[^A-Za-z0-9.])v?\d+\.\d+")
SNAPSHOT = re.compile(r"(?:^|\D)20\d{6}(?:\D|$)")
ROOTLESS_BUILDKIT = re.compile(r"(?:docker\.io/)?moby/buildkit:[A-Za-z0-9._*-]*rootless(?:@sha256:[0-9a-f]{64})?")


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
