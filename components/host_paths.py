"""Host directories a Docker runner's jobs may see: the one way a job reaches the host's file system.

A path is read as Docker would use it (after `//`, `.` and `..` are resolved, without a trailing `/`), and
refused when it is, holds or lies inside anything that gives a job the host: the root, system and kernel
interfaces, the container engines' state (which holds every volume, runner-fleet's config volume and its
runner tokens included), credentials in home directories, and any socket. Pure: the spec checks what a stack
asks for with it, the policies check what a config.toml declares with it.
Docker follows symbolic links in a bind source: a host directory must not be a link (the README says so).
"""

from __future__ import annotations

import re

SENSITIVE = (
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib64",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/sys",
    "/usr",
    "/var/lib/containerd",
    "/var/lib/containers",
    "/var/lib/docker",
    "/var/lib/kubelet",
    "/var/run",
)
"""What no job may reach, hold or sit inside (as normalised absolute paths)."""
PATH_CHARACTERS = re.compile(r"[A-Za-z0-9._/+@-]+")
"""The characters a host or mount path may have: no spaces, no ':' or ',' (Docker's volume syntax), no globs."""
MAX_PATH = 4096


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


def host_path_problem(path: str) -> str | None:
    """Why a job must not see the host directory `path`, or None when it may."""
    problem = shape_problem(path)
    if problem is not None:
        return problem
    norm = normalise(path)
    if norm == "/":
        return "is the host's root"
    if any(part.endswith(".sock") for part in norm.split("/")):
        return f"{norm} is or holds a socket"
    for sensitive in SENSITIVE:
        if norm == sensitive or norm.startswith(sensitive + "/"):
            return f"{norm} is inside {sensitive}, which no job may reach"
        if sensitive.startswith(norm + "/"):
            return f"{norm} holds {sensitive}, which no job may reach"
    return None


def mount_path_problem(path: str) -> str | None:
    """Why a job container must not get a host directory at `path`, or None."""
    problem = shape_problem(path)
    if problem is not None:
        return problem
    norm = normalise(path)
    if norm == "/" or norm.split("/")[1] in ("proc", "sys", "dev"):
        return f"{norm}: not over the container's root or its kernel interfaces (/proc, /sys, /dev)"
    return None
