"""Read `runners.<r>`: one GitLab runner registration, its scope, its host and its job image policy.

The keys and their types are in `keys.RUNNER`; this module adds the rules that tie keys together (the scope,
tags or runUntagged, a BuildKit runner's image allow-list, the host it names). GitLab's rules:
https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.domain.cache import CacheSpec
from components.domain.host_paths import host_path_problem, mount_path_problem, normalise
from components.domain.images import image_problem, rootless_buildkit, shown
from components.domain.model import (
    HostDirectory,
    HostSpec,
    RunnerSpec,
    Scope,
    ScopeKind,
    default_allowed_images,
    default_job_image,
    default_run_untagged,
    field_default,
)
from components.domain.rotation import planned_moment, rotation_at, window_problem
from components.domain.targets import DockerTarget
from components.spec import autoscalers, keys
from components.spec.caches import parse_cache
from components.spec.kinds import GITLAB_PATH, MAX_INT32
from components.spec.problems import CREDENTIAL_MESSAGE, Problems, describe, text_problem
from components.spec.reader import check_name, exactly_one_of, read_section
from components.spec.site_keys import read_secret_ref

SCOPE = keys.SCOPE


def _scope_kind(p: Problems, raw: object, path: str) -> ScopeKind | None:
    """The one scope kind `raw` names, or None with a problem."""
    if not isinstance(raw, dict):
        p.add(path, f"{SCOPE.message}, found {describe(raw)}")
        return None
    unknown = [kind for kind in raw if kind not in SCOPE.names]
    for kind in unknown:
        p.add(f"{path}.{kind}", f"unknown scope; {SCOPE.message}")
    chosen = None if unknown else exactly_one_of(p, raw, path, SCOPE)
    return ScopeKind(chosen) if chosen is not None else None


def _group_or_project(kind: ScopeKind, ref: object) -> Scope | None:
    """A numeric id (also written as text) or a full path."""
    if isinstance(ref, int) and not isinstance(ref, bool) and 0 < ref <= MAX_INT32:
        return Scope(kind, ref)
    if isinstance(ref, str) and ref.strip().isascii() and ref.strip().isdigit():
        number = int(ref.strip())  # digits are always an id, never a path
        return Scope(kind, number) if 0 < number <= MAX_INT32 else None
    if isinstance(ref, str) and GITLAB_PATH.fullmatch(ref.strip().strip("/")):
        return Scope(kind, ref.strip().strip("/"))
    return None


def parse_scope(p: Problems, raw: object, path: str) -> Scope | None:
    kind = _scope_kind(p, raw, path)
    if kind is None or not isinstance(raw, dict):
        return None
    ref = raw[kind.value]
    if kind is ScopeKind.INSTANCE:
        if ref is not True:
            p.add(f"{path}.instance", f"expected true, found {describe(ref)}")
            return None
        return Scope(kind)
    if isinstance(ref, str) and text_problem(ref) == CREDENTIAL_MESSAGE:  # a token, or a random key, as a path
        p.add(f"{path}.{kind}", CREDENTIAL_MESSAGE)
        return None
    scope = _group_or_project(kind, ref)
    if scope is None:
        p.add(
            f"{path}.{kind}",
            f"expected a numeric {kind} id or a full path like 'platform/images', found {describe(ref)}",
        )
    return scope


def glob_match(pattern: str, name: str) -> bool:
    """gitlab-runner matches allowed_images with doublestar globs: '**' matches anything, '*' anything but '/'.

    Matched by dynamic programming over (pattern token, name position), so the cost is at most
    len(tokens) x len(name) steps whatever the pattern: a regex would backtrack exponentially on '****x'."""
    tokens = [t for t in re.split(r"(\*\*|\*)", re.sub(r"\*{3,}", "**", pattern)) if t]
    reachable = {0}  # positions in `name` where what the tokens so far matched can end
    for token in tokens:
        if token == "**":
            reachable = set(range(min(reachable), len(name) + 1))
        elif token == "*":
            after: set[int] = set()
            active = False
            for end in range(len(name) + 1):
                active = active or end in reachable
                if active:
                    after.add(end)
                if end < len(name) and name[end] == "/":
                    active = False  # '*' never crosses a '/'
            reachable = after
        else:
            reachable = {i + len(token) for i in reachable if name.startswith(token, i)}
        if not reachable:
            return False
    return len(name) in reachable


MAX_TAG = 255  # GitLab's tag name column


def _check_tags(p: Problems, path: str, tags: tuple[str, ...]) -> None:
    """GitLab splits tag lists on commas and compares tags case-insensitively."""
    seen: dict[str, str] = {}
    for tag in tags:
        if "," in tag or len(tag) > MAX_TAG:
            p.add(path, f"{tag!r}: a tag has no commas (GitLab splits on them) and at most {MAX_TAG} characters")
        elif tag.casefold() in seen:
            p.add(path, f"{tag!r} and {seen[tag.casefold()]!r} are the same tag to GitLab (case does not count)")
        seen.setdefault(tag.casefold(), tag)


def _check_images(p: Problems, path: str, values: dict[str, Any], mirror: str | None) -> None:
    """Fill the image defaults (from the mirror, when there is one); a BuildKit runner must restrict its images
    to rootless BuildKit (under the mirror, when there is one), and its image must be allowed."""
    buildkit = values.get("buildkit", field_default(RunnerSpec, "buildkit"))
    values.setdefault("image", default_job_image(buildkit, mirror))
    if "allowed_images" not in values:
        values["allowed_images"] = default_allowed_images(buildkit, mirror)
    elif buildkit and not values["allowed_images"]:
        p.add(
            f"{path}.allowedImages",
            "a BuildKit runner must restrict its images; an empty list would allow any image to run unconfined",
        )
    elif buildkit:
        for i, pattern in enumerate(values["allowed_images"]):
            if not rootless_buildkit(mirror).fullmatch(pattern):
                where = "[docker.io/]" if mirror is None else f"{mirror}/ (the registryMirror) "
                p.add(
                    f"{path}.allowedImages[{i}]",
                    f"{shown(pattern)} is not moby's rootless BuildKit image: a BuildKit runner's jobs run unconfined, "
                    f"so only {where}moby/buildkit:<tag ending in rootless> (a '*' in the tag only) may run there",
                )
    allowed, image = values["allowed_images"], values["image"]
    if "image" in values and (problem := image_problem(image)) is not None:
        p.add(f"{path}.image", problem)
    if allowed and not any(glob_match(pattern, image) for pattern in allowed):
        patterns = ", ".join(shown(pattern) for pattern in allowed)
        p.add(f"{path}.image", f"{shown(image)} is not allowed by allowedImages ({patterns})")


def parse_host_directories(p: Problems, raw: object, path: str) -> tuple[HostDirectory, ...] | None:
    """`hostDirectories`: each path normalised and checked (components/domain/host_paths.py); mount paths unique."""
    if not isinstance(raw, list):
        p.add(path, f"expected a list of {{hostPath, mountPath, readOnly?}} maps, found {describe(raw)}")
        return None
    found: dict[str, HostDirectory] = {}  # by mount path: one lookup per entry, however many a stack lists
    for i, item in enumerate(raw):
        values = read_section(p, item, f"{path}[{i}]", keys.HOST_DIRECTORY)
        if values is None or "host_path" not in values or "mount_path" not in values:
            continue
        problems = [
            (f"{path}[{i}].hostPath", host_path_problem(values["host_path"])),
            (f"{path}[{i}].mountPath", mount_path_problem(values["mount_path"])),
        ]
        for where, problem in problems:
            if problem is not None:
                p.add(where, problem)
        if all(problem is None for _, problem in problems):
            values.update(host_path=normalise(values["host_path"]), mount_path=normalise(values["mount_path"]))
            if values["mount_path"] in found:
                p.add(f"{path}[{i}].mountPath", f"{values['mount_path']} is mounted twice")
            else:
                found[values["mount_path"]] = HostDirectory(**values)
    return tuple(found.values())


def _check_host_directories(p: Problems, path: str, values: dict[str, Any], host: HostSpec | None) -> None:
    if not values.get("host_directories"):
        return
    if values.get("buildkit"):
        p.add(
            f"{path}.hostDirectories",
            "a BuildKit runner's jobs run unconfined: they get no host directory (cache builds in a registry)",
        )
    elif host is not None and not isinstance(host.target, DockerTarget):
        p.add(
            f"{path}.hostDirectories",
            "Docker hosts only: Kubernetes job pods get no host paths (the job namespace's admission guard refuses "
            "hostPath)",
        )


def _registry_auth(p: Problems, raw: object, path: str) -> str | None:
    return read_secret_ref(p, raw, path, "a Docker config.json")


@dataclass(frozen=True)
class FleetContext:
    """What a runner is read against: the fleet's hosts and the fleet-wide defaults it inherits."""

    hosts: Mapping[str, HostSpec | None]
    """Every host key (None for a host that is invalid)."""
    cache: CacheSpec | None = None
    """The fleet's cache, which a runner gets unless it sets its own (`{}`: none)."""
    mirror: str | None = None
    """The fleet's registry mirror, which a runner's default images come from."""
    rotation_days: int = 0
    """The fleet's token rotation period in days (0: off), which a runner gets unless it sets its own."""
    now: datetime | None = None
    """The moment rotation decisions are made for."""


def parse_runner(p: Problems, key: str, raw: object, fleet: FleetContext) -> RunnerSpec | None:
    """One runner, read against the fleet's hosts and defaults."""
    hosts, cache, mirror = fleet.hosts, fleet.cache, fleet.mirror
    path = f"runners.{key}"
    named = check_name(p, key, path, "runner")
    nested = {
        "scope": parse_scope,
        "hostDirectories": parse_host_directories,
        "cache": parse_cache,
        "registryAuth": _registry_auth,
        "autoscaler": autoscalers.parse_autoscaler,
    }
    values = read_section(p, raw, path, keys.RUNNER, nested)
    if values is None:
        return None
    own = values.pop("cache", None)
    if isinstance(raw, dict) and "cache" in raw:
        values["cache"] = own if isinstance(own, CacheSpec) else None  # its own, `{}` (none) or invalid
    else:
        values["cache"] = cache
    host = values.get("host")
    if host is not None and host not in hosts:
        p.add(f"{path}.host", f"unknown host {host!r} (known: {', '.join(sorted(hosts)) or 'none defined'})")
    _check_host_directories(p, path, values, hosts.get(host) if isinstance(host, str) else None)
    autoscalers.check_runner(p, path, raw, values, hosts.get(host) if isinstance(host, str) else None)
    values["tags"] = tuple(sorted(set(values.get("tags", ()))))
    _check_tags(p, f"{path}.tags", values["tags"])
    values.setdefault("run_untagged", default_run_untagged(values["tags"]))
    if not values["tags"] and not values["run_untagged"]:
        p.add(f"{path}.tags", "a runner with no tags must set runUntagged: true (GitLab refuses it otherwise)")
    scope = values.get("scope")
    if values.get("locked") and scope is not None and scope.kind is not ScopeKind.PROJECT:
        p.warn(
            f"{path}.locked", f"only project runners can be locked; GitLab ignores it on this {scope.kind.value} runner"
        )
    _check_images(p, path, values, mirror)
    if not named or host not in hosts or scope is None:
        return None
    own = "token_rotation_days" in values
    values.setdefault("token_rotation_days", fleet.rotation_days)
    if values.get("autoscaler") is not None and values["token_rotation_days"]:
        # gitlab-runner keys a taskscaler by its registration: the retiring and the new registration would be two
        # taskscalers of one instance group, and the new one removes the instances running the old one's jobs.
        p.add(
            f"{path}.tokenRotationDays" if own else f"{path}.autoscaler",
            f"token rotation (every {values['token_rotation_days']} days"
            f"{'' if own else ', the fleet-wide tokenRotationDays'}) keeps a retiring registration beside the new "
            "one, and gitlab-runner would run two taskscalers of this runner's instance group (the new one removes "
            "the instances running the other's jobs); set runners."
            f"{key}.tokenRotationDays: 0 and rotate its token in a quiet moment",
        )
        return None
    return _with_rotation(
        p, f"{path}.tokenRotationDays" if own else "tokenRotationDays", RunnerSpec(key=key, **values), fleet
    )


def _with_rotation(p: Problems, path: str, runner: RunnerSpec, fleet: FleetContext) -> RunnerSpec | None:
    """The runner with where its registrations stand, when it rotates (its own period, else the fleet's)."""
    days = runner.token_rotation_days
    if not days:
        return runner
    problem = window_problem(days, runner.pause_seconds)
    if problem is not None:
        p.add(path, f"{problem} (runner {runner.key!r})")
        return None
    state = rotation_at(fleet.now or planned_moment(), days, runner.pause_seconds)
    return dataclasses.replace(runner, rotation=state)
