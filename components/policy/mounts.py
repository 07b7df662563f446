"""The rule about what job containers and pods may mount: nothing of the host but the checked host directories,
and nothing runner-fleet declares but the host's GitLab CA. Same contract as `rules.py`: (resource name, what is
wrong and what to change).

A positive model: a Docker job's binds are `hostDirectories` as rendered (a host path below the allowed roots,
never into an unconfined BuildKit job) or its host's CA volume read-only at the CA directory; a Kubernetes job
pod's volumes are scratch space, and its one Secret volume is its host's CA, read-only, at the CA directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from components.domain import site
from components.domain.host_paths import host_path_problem, mount_path_problem
from components.policy.resources import ConfigFile, Declared, plain, runner_entries, where
from components.render import labels as marks

Finding = tuple[str, str]


def _ca_volume(config: ConfigFile) -> str:
    """The one volume (not a host path) a Docker job may mount: its host's GitLab CA volume, read-only, at CA_DIR.
    The host is the config writer's, by its stack and host labels (its name also holds the manager's generation)."""
    found = plain(config.resource.inputs.get("labels")) or []
    labels = {str(x.get("label")): str(x.get("value")) for x in found if isinstance(x, dict)}
    return f"{marks.ca_volume_name(labels.get(marks.STACK, ''), labels.get(marks.HOST, ''))}:{site.CA_DIR}:ro"


def _ca_secret_mount(config: ConfigFile) -> list[dict[str, Any]]:
    """The one Secret a Kubernetes job pod may mount: its host's GitLab CA, read-only, at CA_DIR."""
    metadata = plain(config.resource.inputs.get("metadata")) or {}
    host = str((metadata.get("labels") or {}).get(marks.HOST, ""))
    return [{"name": marks.ca_secret_name(host), "mount_path": site.CA_DIR, "read_only": True}]


def _bind_problem(bind: str, *, relaxed: bool) -> str | None:
    """A bind mount is allowed only as hostDirectories renders it: a checked host path, a checked mount path,
    optionally `:ro`, and never into an unconfined (BuildKit) job."""
    host, mount, *options = bind.split(":")
    if relaxed:
        return "an unconfined BuildKit job gets no host directory"
    if options not in ([], ["ro"]):
        return f"options {':'.join(options)!r}: only ':ro'"
    return host_path_problem(host) or mount_path_problem(mount)


def no_host_paths_for_jobs(resources: list[Declared]) -> Iterator[Finding]:
    for config, entry in runner_entries(resources):
        docker, k8s = entry.get("docker") or {}, entry.get("kubernetes") or {}
        binds = (str(v) for v in docker.get("volumes") or [] if ":" in str(v))
        for bind in (b for b in binds if b != _ca_volume(config)):
            problem = _bind_problem(bind, relaxed=bool(docker.get("security_opt")))
            if problem is not None:
                yield where(config, entry), f"docker.volumes {bind!r}: {problem}"
        for key in ("volumes_from", "devices", "device_cgroup_rules"):
            if docker.get(key):
                yield where(config, entry), f"docker.{key}: jobs reach nothing of the host or another container"
        if str(docker.get("network_mode", "")).startswith(("host", "container:")):
            yield where(config, entry), "docker.network_mode: jobs get their own network namespace"
        volumes = k8s.get("volumes") or {}
        if volumes.get("secret") and volumes["secret"] != _ca_secret_mount(config):
            yield (
                where(config, entry),
                "kubernetes.volumes.secret: only the host's GitLab CA, read-only, at " + site.CA_DIR,
            )
        for kind in ("host_path", "pvc", "config_map", "csi"):
            if volumes.get(kind):
                yield where(config, entry), f"kubernetes.volumes.{kind}: jobs get scratch volumes only"
