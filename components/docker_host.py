"""DockerRunnerHost: one gitlab-runner manager container on a Docker engine, serving every runner placed there.

Declares, through the host's `docker.Provider` (passed in):
- `RemoteImage`: the pinned gitlab/gitlab-runner image;
- `Volume`: the manager's config directory. It outlives containers, so `.runner_system_id` (the manager's
  identity in GitLab) survives upgrades instead of leaving a "ghost" manager behind each time;
- with `gitlabCaBundle`, a second `Volume` holding the CA alone, which job containers mount read-only;
- a *config writer* `Container` that is created but never started: its only job is to upload config.toml
  (secret, mode 0600) into the volume (and the CA into both volumes). Uploads force a replacement (the
  provider's `upload` is ForceNew, and containers are delete-before-replace), so a config change replaces
  this inert container, not the manager;
- a *config reloader* `Container` in the manager's PID namespace, replaced with each upload, that sends the
  manager SIGHUP: gitlab-runner reloads config.toml at once (its own check compares file times, which the
  uploading machine's clock decides), without a restart; running jobs are untouched;
- `Network`: the manager's own bridge network, which no job joins; its listener (metrics, /debug) is published
  on the host's 127.0.0.1 only;
- the manager `Container`: stable name, `unless-stopped`, the host's docker.sock, never privileged, no
  relaxed security options, `no-new-privileges`, bounded logs (the `local` driver), `stop_signal` SIGQUIT. Every input
  that forces its replacement comes from the host alone; when it *is* replaced (image upgrade) or removed, the
  provider stops it with `destroy_grace_seconds` = the drain, under a delete timeout that covers it
  (components/domain/lifecycle.py), so it stops taking jobs and finishes the running ones instead of being killed.

Runner docs: https://docs.gitlab.com/runner/install/docker/ ; provider:
https://www.pulumi.com/registry/packages/docker/api-docs/container/
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.domain import naming, site
from components.domain.lifecycle import MANAGER_STOP_TIMEOUT, manager_timeouts
from components.domain.model import ManagerSpec
from components.domain.targets import DockerTarget
from components.render import config_toml
from components.render import labels as marks
from components.secrets import ca_bundle, rendered_config, secret

CONFIG_DIR = "/etc/gitlab-runner"
CONFIG_FILE = f"{CONFIG_DIR}/config.toml"
DOCKER_SOCKET = "/var/run/docker.sock"
METRICS_BIND = "127.0.0.1"  # the host interface the manager's listener is published on
# Docker's `local` log driver rotates by itself (20 MB x 5 files, compressed). No log options are declared: the
# engine merges its own default options into a container whose driver is the daemon's default, and the provider
# reads them back, so any declared `logOpts` would differ from what the engine stores on such a host.
LOG_DRIVER = "local"
CA_UPLOAD_DIR = "/gitlab-ca"  # where the writer mounts the CA volume (it never runs; only uploads go there)
DIRECT = ("localhost", "127.0.0.1")  # never through the proxy: the manager's own listener
# PID 1 of the manager is dumb-init, which passes SIGHUP on to gitlab-runner (a reload, not a stop).
RELOAD_COMMAND = "kill -HUP 1"
# The manager needs none of these; docker.sock already makes it powerful, so keep the rest small. Spelled as the
# engine stores them: the Go Docker SDK upper-cases, prefixes CAP_ and sorts before sending, and the provider's
# Read returns the stored form; a bare name would replace the manager on every `pulumi up`.
DROPPED_CAPABILITIES = [
    "CAP_AUDIT_WRITE",
    "CAP_MKNOD",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_RAW",
    "CAP_SETFCAP",
    "CAP_SYS_CHROOT",
]


@dataclass(frozen=True)
class DockerRunnerHostArgs:
    """What one Docker host's manager is made from."""

    manager: ManagerSpec
    """The host's view of the fleet: its settings, its runners, its drain period."""
    tokens: Mapping[str, pulumi.Output[str]]
    """Runner key -> glrt- token (secret), for every runner on the host."""
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Secret config values by key; the host takes those its config.toml holds (cache credentials)."""


container_name = marks.container_name


def _labels(manager: ManagerSpec, role: str) -> list[docker.ContainerLabelArgs]:
    values = {marks.STACK: manager.stack, marks.HOST: manager.host.key, marks.ROLE: role}
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(values.items())]


def _digest(files: list[str | None]) -> str:
    return config_toml.checksum(files[0] or "", files[1])


class DockerRunnerHost(pulumi.ComponentResource):
    manager_name: pulumi.Output[str]

    def __init__(self, name: str, args: DockerRunnerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:docker_host:DockerRunnerHost", name, None, opts)
        manager = args.manager
        target = args.manager.host.target
        if not isinstance(target, DockerTarget):
            raise TypeError(f"host {manager.host.key!r} is not a Docker host")
        base = container_name(manager.stack, manager.host.key)
        child = pulumi.ResourceOptions(parent=self)

        image = docker.RemoteImage(
            naming.child(name, naming.DOCKER_IMAGE), name=manager.host.runner_image, keep_locally=True, opts=child
        )
        volume = docker.Volume(
            naming.child(name, naming.DOCKER_CONFIG_VOLUME),
            name=marks.config_volume_name(manager.stack, manager.host.key),
            labels=[docker.VolumeLabelArgs(label=x.label, value=x.value) for x in _labels(manager, marks.ROLE_CONFIG)],
            opts=child,
        )
        config_dir = docker.ContainerVolumeArgs(volume_name=volume.name, container_path=CONFIG_DIR)
        # The manager's own network: job containers run on the default bridge (or per-build networks), and
        # Docker isolates bridge networks from each other, so no job reaches the manager's listener.
        network = docker.Network(
            naming.child(name, naming.DOCKER_NETWORK),
            name=marks.network_name(manager.stack, manager.host.key),
            driver="bridge",
            labels=[
                docker.NetworkLabelArgs(label=x.label, value=x.value) for x in _labels(manager, marks.ROLE_NETWORK)
            ],
            opts=child,
        )

        config = secret(rendered_config(manager, args.tokens, args.secrets))
        uploads = [docker.ContainerUploadArgs(file=CONFIG_FILE, content=config, permissions="0600")]
        volumes = [config_dir]
        ca = ca_bundle(manager, args.secrets)
        if ca is not None:
            # The manager reads the CA next to config.toml; jobs mount a volume that holds the CA alone.
            ca_volume = docker.Volume(
                naming.child(name, naming.DOCKER_CA_VOLUME),
                name=marks.ca_volume_name(manager.stack, manager.host.key),
                labels=[
                    docker.VolumeLabelArgs(label=x.label, value=x.value) for x in _labels(manager, marks.ROLE_GITLAB_CA)
                ],
                opts=child,
            )
            volumes.append(docker.ContainerVolumeArgs(volume_name=ca_volume.name, container_path=CA_UPLOAD_DIR))
            uploads += [
                docker.ContainerUploadArgs(
                    file=ca.apply(lambda text: config_toml.manager_ca_file(manager, text)),
                    content=ca,
                    permissions="0644",
                ),
                docker.ContainerUploadArgs(file=f"{CA_UPLOAD_DIR}/{site.CA_FILE}", content=ca, permissions="0644"),
            ]
        writer = docker.Container(
            naming.child(name, naming.DOCKER_CONFIG_WRITER),
            name=marks.config_writer_name(manager.stack, manager.host.key),
            image=image.image_id,
            start=False,  # never runs: created only to upload config.toml (and the CA) into the volumes
            must_run=False,
            volumes=volumes,
            uploads=uploads,
            labels=_labels(manager, marks.ROLE_CONFIG_WRITER),
            opts=child,
        )

        drain = manager.drain_seconds
        timeouts = manager_timeouts(drain)
        container = docker.Container(
            naming.child(name, naming.DOCKER_MANAGER),
            name=base,
            image=image.image_id,
            restart="unless-stopped",
            must_run=True,
            volumes=[config_dir],
            mounts=[docker.ContainerMountArgs(type="bind", source=DOCKER_SOCKET, target=DOCKER_SOCKET)],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
            # Metrics and /debug on the host's loopback only: an operator scrapes 127.0.0.1:<metricsPort> on the
            # host (a node-local agent, or `ssh -L`); a job's 127.0.0.1 is its own container.
            ports=[
                docker.ContainerPortArgs(
                    internal=config_toml.METRICS_PORT, external=target.metrics_port, ip=METRICS_BIND, protocol="tcp"
                )
            ],
            privileged=False,
            security_opts=["no-new-privileges=true"],
            capabilities=docker.ContainerCapabilitiesArgs(drops=DROPPED_CAPABILITIES),
            envs=[f"{k}={v}" for k, v in proxy.environment(DIRECT)] if (proxy := manager.host.proxy) else None,
            # SIGQUIT: stop taking jobs, finish the running ones, exit. SIGTERM would abort them.
            stop_signal="SIGQUIT",
            # Every input that forces a replacement comes from the host alone (never from its runners), so adding
            # a runner or changing a timeout never replaces the manager. The stop timeout is one of them: a
            # constant. runner-fleet's own stops wait for the drain: the provider stops with destroyGraceSeconds
            # (updated in place) under a delete timeout that covers it.
            stop_timeout=MANAGER_STOP_TIMEOUT,
            destroy_grace_seconds=drain,
            log_driver=LOG_DRIVER,
            labels=_labels(manager, marks.ROLE_MANAGER),
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[writer],
                # Stacks deployed before the stop timeout became a constant keep theirs until the manager is
                # replaced for another reason: changing it alone would replace (and drain) every manager once.
                ignore_changes=["stopTimeout"],
                custom_timeouts=pulumi.CustomTimeouts(
                    create=timeouts.create, update=timeouts.update, delete=timeouts.delete
                ),
            ),
        )
        # The digest as the new config writer has it: the reloader waits for (and is replaced with) each upload.
        uploaded = pulumi.Output.all(writer.id, pulumi.Output.all(config, ca).apply(_digest)).apply(lambda v: v[1])
        self._reloader(name, manager, image, container, uploaded)
        self.manager_name = container.name
        self.register_outputs({"managerName": self.manager_name})

    def _reloader(
        self,
        name: str,
        manager: ManagerSpec,
        image: docker.RemoteImage,
        container: docker.Container,
        digest: pulumi.Output[str],
    ) -> docker.Container:
        """A short-lived container in the manager's PID namespace that sends it SIGHUP: gitlab-runner reloads
        config.toml at once. It is replaced (and so runs again) whenever the config's digest changes, after the
        new config writer has uploaded the file, so a reload never depends on file times or clocks."""
        labels = _labels(manager, marks.ROLE_CONFIG_RELOADER)
        # A digest of the config is not the config: plain, so that the plan shows when a reload happens.
        labels.append(docker.ContainerLabelArgs(label=marks.CONFIG_DIGEST, value=pulumi.Output.unsecret(digest)))
        return docker.Container(
            naming.child(name, naming.DOCKER_CONFIG_RELOADER),
            name=marks.config_reloader_name(manager.stack, manager.host.key),
            image=image.image_id,
            entrypoints=["/bin/sh", "-c"],
            command=[RELOAD_COMMAND],
            # By id: the engine stores `container:<name>` as `container:<id>`, and pidMode forces a replacement.
            pid_mode=container.id.apply(lambda i: f"container:{i}"),
            network_mode="none",
            start=True,
            must_run=False,  # it exits at once; exited is its resting state
            privileged=False,
            security_opts=["no-new-privileges=true"],
            capabilities=docker.ContainerCapabilitiesArgs(drops=["ALL"]),
            labels=labels,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[container]),
        )
