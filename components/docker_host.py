"""DockerRunnerHost: one gitlab-runner manager container on a Docker engine, serving every runner placed there.

Declares, through the host's `docker.Provider` (passed in):
- `RemoteImage`: the pinned gitlab/gitlab-runner image;
- `Volume`: the manager's config directory. It outlives containers, so `.runner_system_id` (the manager's
  identity in GitLab) survives upgrades instead of leaving a "ghost" manager behind each time;
- a *config writer* `Container` that is created but never started: its only job is to upload config.toml
  (secret, mode 0600) into the volume. Uploads force a replacement (the provider's `upload` is ForceNew,
  and containers are delete-before-replace), so a config change replaces this inert container, not the
  manager. gitlab-runner re-reads config.toml every 3 seconds: the change applies without a restart and
  running jobs are untouched;
- the manager `Container`: stable name, `unless-stopped`, the host's docker.sock, never privileged, no
  relaxed security options, `no-new-privileges`, bounded json-file logs, `stop_signal` SIGQUIT and a grace
  period at least the longest job timeout, so that when it *is* replaced (image upgrade) it stops taking
  jobs and finishes running ones instead of killing them.

Runner docs: https://docs.gitlab.com/runner/install/docker/ ; provider:
https://www.pulumi.com/registry/packages/docker/api-docs/container/
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import runner_config
from components.model import FleetSpec
from components.secrets import secret

CONFIG_DIR = "/etc/gitlab-runner"
DOCKER_SOCKET = "/var/run/docker.sock"
LOG_OPTS = {"max-size": "20m", "max-file": "5"}
# The manager needs none of these; docker.sock already makes it powerful, so keep the rest small.
DROPPED_CAPABILITIES = ["AUDIT_WRITE", "MKNOD", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SYS_CHROOT"]


@dataclass(frozen=True)
class DockerRunnerHostArgs:
    spec: FleetSpec
    host_key: str
    tokens: Mapping[str, pulumi.Output[str]]  # runner key -> glrt- token (secret)


def container_name(stack: str, host_key: str) -> str:
    return f"gitlab-runner-{stack}-{host_key}"


def _labels(stack: str, host_key: str, role: str) -> list[docker.ContainerLabelArgs]:
    values = {"runner-fleet.io/stack": stack, "runner-fleet.io/host": host_key, "runner-fleet.io/role": role}
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(values.items())]


class DockerRunnerHost(pulumi.ComponentResource):
    manager_name: pulumi.Output[str]

    def __init__(self, name: str, args: DockerRunnerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:docker_host:DockerRunnerHost", name, None, opts)
        spec, key = args.spec, args.host_key
        host = spec.host(key)
        base = container_name(spec.stack, key)
        child = pulumi.ResourceOptions(parent=self)

        image = docker.RemoteImage(f"{name}-runner-image", name=host.runner_image, keep_locally=True, opts=child)
        volume = docker.Volume(
            f"{name}-config",
            name=f"{base}-config",
            labels=[docker.VolumeLabelArgs(label=x.label, value=x.value) for x in _labels(spec.stack, key, "config")],
            opts=child,
        )
        config_dir = docker.ContainerVolumeArgs(volume_name=volume.name, container_path=CONFIG_DIR)

        config_toml = secret(
            pulumi.Output.all(**args.tokens).apply(lambda tokens: runner_config.render(spec, key, tokens))
        )
        writer = docker.Container(
            f"{name}-config-writer",
            name=f"{base}-config-writer",
            image=image.image_id,
            start=False,  # never runs: created only to upload config.toml into the volume
            must_run=False,
            volumes=[config_dir],
            uploads=[
                docker.ContainerUploadArgs(file=f"{CONFIG_DIR}/config.toml", content=config_toml, permissions="0600")
            ],
            labels=_labels(spec.stack, key, "config-writer"),
            opts=child,
        )

        drain = spec.drain_seconds(key)
        manager = docker.Container(
            f"{name}-manager",
            name=base,
            image=image.image_id,
            restart="unless-stopped",
            must_run=True,
            volumes=[config_dir],
            mounts=[docker.ContainerMountArgs(type="bind", source=DOCKER_SOCKET, target=DOCKER_SOCKET)],
            privileged=False,
            security_opts=["no-new-privileges=true"],
            capabilities=docker.ContainerCapabilitiesArgs(drops=DROPPED_CAPABILITIES),
            # SIGQUIT: stop taking jobs, finish the running ones, exit. SIGTERM would abort them.
            stop_signal="SIGQUIT",
            stop_timeout=drain,
            destroy_grace_seconds=drain,
            log_driver="json-file",
            log_opts=LOG_OPTS,
            labels=_labels(spec.stack, key, "manager"),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[writer]),
        )
        self.manager_name = manager.name
        self.register_outputs({"managerName": self.manager_name})
