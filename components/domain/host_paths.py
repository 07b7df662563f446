"""Host directories a Docker runner's jobs may see: the one way a job reaches the host's file system.

A positive model. A path is read as the kernel resolves it (`//`, `.` and `..` resolved, no trailing `/`) and
is allowed only below one of ALLOWED_ROOTS, directories that exist for runner-fleet's jobs and nothing else
(`/srv/runner-fleet`, `/var/cache/runner-fleet`: the operator creates them), never a root itself, and never a
socket. Everything else is refused: even `/srv` and `/var/cache` hold other services' configuration and secrets
(GitLab's own `/srv/gitlab/config`, a runner's `/srv/gitlab-runner/config`, debconf's passwords), and so do
the root, system paths, cron and boot scripts, engine and cluster state (every volume, runner-fleet's config
volume with its runner tokens included) and temporary directories full of other users' sockets.
Pure: the spec checks what a stack asks for with it, the policies check what a config.toml declares with it.
Docker follows symbolic links in a bind source: a host directory must not be a link (the README says so).
"""

from __future__ import annotations

import re

ALLOWED_ROOTS = ("/srv/runner-fleet", "/var/cache/runner-fleet")
"""Host directories live below one of these (e.g. /srv/runner-fleet/cache), never at a root itself."""
PATH_CHARACTERS = re.compile(r"[A-Za-z0-9._/+@-]+")
"""The characters a host or mount path may have: no spaces, no ':' or ',' (Docker's volume syntax), no globs."""
SOCKET_NAME = re.compile(r".*(\.sock|\.socket|sock)$", re.IGNORECASE)
MAX_PATH = 4096
RESERVED_MOUNTS = ("/builds", "/proc", "/sys", "/dev", "/etc/gitlab-runner/certs")
"""Where a host directory never goes in the job container: the checkouts every job of the runner shares
(`/builds`), the kernel's interfaces, and where runner-fleet delivers the GitLab CA (`site.CA_DIR`)."""


def normalise(path: str) -> str:
    """`path` as the kernel resolves it lexically: `//` and `.` dropped, `..` applied, no trailing `/`."""
    parts: list[str] = []
    for part in path.split("/"):
        if part == "..":
            if parts:
                parts.pop()
        elif part not in ("", "."):
            parts.append(part)
    return "/" + "/".join(parts)


def shape_problem(path: str) -> str | None:
    """What is wrong with how `path` is written (absolute, plain characters), or None."""
    if len(path) > MAX_PATH:
        return f"a path has at most {MAX_PATH} characters"
    if not path.startswith("/") or not PATH_CHARACTERS.fullmatch(path):
        return "expected an absolute path of letters, digits and . _ - + @ /"
    return None


def _below(path: str, root: str) -> bool:
    return path.startswith(root + "/")


def host_path_problem(path: str) -> str | None:
    """Why a job must not see the host directory `path`, or None when it may."""
    problem = shape_problem(path)
    if problem is not None:
        return problem
    norm = normalise(path)
    if not any(_below(norm, root) for root in ALLOWED_ROOTS):
        return (
            f"{norm}: host directories live below {' or '.join(r + '/' for r in ALLOWED_ROOTS)} (directories that "
            "exist for runner-fleet's jobs only), e.g. /srv/runner-fleet/cache"
        )
    if any(SOCKET_NAME.fullmatch(part) for part in norm.split("/")):
        return f"{norm} is or holds a socket"
    return None


def mount_path_problem(path: str) -> str | None:
    """Why a job container must not get a host directory at `path`, or None."""
    problem = shape_problem(path)
    if problem is not None:
        return problem
    norm = normalise(path)
    if norm == "/" or any(norm == r or _below(norm, r) for r in RESERVED_MOUNTS):
        return (
            f"{norm}: not over the container's root, the shared checkouts (/builds), /proc, /sys, /dev or the "
            "GitLab CA (/etc/gitlab-runner/certs)"
        )
    return None


def overlap(a: str, b: str) -> bool:
    """Whether two normalised host paths are the same directory or one holds the other."""
    return a == b or _below(a, b) or _below(b, a)


def inside(inner: str, outer: str) -> bool:
    """Whether the normalised host path `inner` lies strictly below `outer`: whoever may write `outer` may replace
    `inner` (or a directory on the way to it) with a symbolic link, which Docker follows in a bind source.
    Compared as the kernel compares names: byte for byte (Linux file names are case-sensitive), after `normalise`;
    links already on the host cannot be seen offline (the README asks for real directories)."""
    return _below(inner, outer)
