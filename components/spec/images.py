"""Image references as Docker and containerd parse them: what a stack may name as an image.

Grammar: distribution/reference (`reference/regexp.go`): `[registry[:port]/]path[:tag][@digest]`, path
components lower-case, a tag at most 128 characters of `[A-Za-z0-9_.-]` not starting with `.` or `-`, the
whole name at most 255 characters. An image without a tag or digest (or tagged `latest`) is accepted here;
whether it is pinned is the policies' question.
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
