"""DockerRunnerHost: one gitlab-runner manager container on a Docker engine, serving every runner placed there.

Declares, through the host's `docker.Provider` (passed in):
- `RemoteImage`: the pinned gitlab/gitlab-runner image;
- `Network`: the manager's own bridge network, which no job joins (shared by the manager's generations);
- with `gitlabCaBundle`, a `Volume` holding the CA alone, which job containers mount read-only;
- per *generation* (`domain/generation.py`: a digest of every input that forces the manager container's
  replacement), all named `<base>-<generation>...`:
  - a config `Volume`: config.toml and the generation's own `.runner_system_id`, so that GitLab sees a successor
    as a second manager of the same runners while the old one drains;
  - a *config writer* `Container`, created but never started, that uploads config.toml (secret, mode 0600), the
    system id (0600, as gitlab-runner writes it) and the CA. Uploads force a replacement (delete-first, same name),
    so a config change replaces this inert container, not the manager;
  - the manager `Container`: `unless-stopped`, the host's docker.sock, never privileged, `no-new-privileges`,
    dropped capabilities, bounded logs, `stop_signal` SIGQUIT, its listener published on the host's 127.0.0.1 at a
    port Docker picks (so two generations never want the same one);
  - a *config reloader* `Container` in the manager's PID namespace, replaced with each upload, that sends the
    manager SIGHUP: gitlab-runner reloads config.toml at once, without a restart; running jobs are untouched.

Create before delete. A runner edit keeps the generation: the writer and reloader are replaced, the manager reloads.
A change that forces the manager's replacement (image upgrade, proxy) is a new generation, so new names, and the
manager and its volume carry `delete_before_replace=False`; the Pulumi engine (pkg/resource/deploy/step_generator.go,
deployment_executor.go) then runs, for an image upgrade:
  1. create the new image (RemoteImage is create-first), the new config volume (create-first: option);
  2. replace the writer delete-first (provider default, same name otherwise): the old reloader (property dependency
     on the writer) and the old writer go, the new writer uploads into the new volume; neither is a manager;
  3. create the new manager (create-first: option), started, and wait until it is healthy (`wait` with the
     manager's health check: its listener answers, so gitlab-runner loaded its config; a successor that exits or
     crash-loops fails this create after WAIT_SECONDS); then the new reloader;
  4. only after every create and update of the run has succeeded (performPostSteps), delete what was replaced, in
     reverse dependency order: the old manager first, stopped with destroyGraceSeconds = the drain under SIGQUIT
     (it finishes its jobs while the new one takes new ones), then its volume.
No step stops a running manager before step 4, and step 4 runs only when the successor was created and healthy;
if any step fails, the run stops before step 4 and the old manager keeps running. A manager is never in a
delete-before-replace cascade: nothing it has a property dependency on (image, volume, network) is replaced
delete-first (the network's inputs are the host's, fixed), and `depends_on` (the writer) never cascades. A stack
deployed before generations replaces its manager the same way (same URN, new name). tests/test_docker_host.py
replays these steps from reference/provider-semantics.json and two plans; tests/engine runs them on a real dockerd
(test_upgrade; test_failed_start: a successor that never gets healthy leaves the old manager running).

Runner docs: https://docs.gitlab.com/runner/install/docker/ ; provider:
https://www.pulumi.com/registry/packages/docker/api-docs/container/
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pulumi
import pulumi_docker as docker

from components.domain import fleeting, naming, site
from components.domain import generation as gen
from components.domain.lifecycle import MANAGER_STOP_TIMEOUT, manager_timeouts
from components.domain.model import ManagerSpec
from components.domain.targets import DockerTarget
from components.render import config_toml
from components.render import labels as marks
from components.secrets import ca_bundle, rendered_config, secret

CONFIG_DIR = "/etc/gitlab-runner"
CONFIG_FILE = f"{CONFIG_DIR}/config.toml"
SYSTEM_ID_FILE = f"{CONFIG_DIR}/.runner_system_id"  # gitlab-runner reads it next to config.toml (configfile.go)
CA_UPLOAD_DIR = "/gitlab-ca"  # where the writer mounts the CA volume (it never runs; only uploads go there)
# PID 1 of the manager is dumb-init, which passes SIGHUP on to gitlab-runner (a reload, not a stop).
RELOAD_COMMAND = "kill -HUP 1"
# The resource option that makes a replacement create-first. The docker provider asks delete-first for every
# container and for a volume whose name the program sets; with the name changing (a new generation), the successor
# can exist beside the old one, and the engine deletes the old one after every create of the run.
CREATE_FIRST = False
DELETE_FIRST = True


@dataclass(frozen=True)
class DockerRunnerHostArgs:
    """What one Docker host's manager is made from."""

    manager: ManagerSpec
    """The host's view of the fleet: its settings, its runners, its drain period."""
    tokens: Mapping[str, pulumi.Output[str]]
    """Runner key -> glrt- token (secret), for every runner on the host."""
    secrets: Mapping[str, pulumi.Output[str]] = field(default_factory=dict)
    """Secret config values by key; the host takes those its config.toml holds (cache credentials)."""


def _labels(manager: ManagerSpec, role: str, generation: str | None = None) -> list[docker.ContainerLabelArgs]:
    values = dict(marks.manager_labels(manager.stack, manager.host.key, role))
    if generation is not None:
        values[marks.GENERATION] = generation
    return [docker.ContainerLabelArgs(label=k, value=v) for k, v in sorted(values.items())]


def _volume_labels(labels: list[docker.ContainerLabelArgs]) -> list[docker.VolumeLabelArgs]:
    return [docker.VolumeLabelArgs(label=x.label, value=x.value) for x in labels]


@dataclass(frozen=True)
class _Generation:
    """What every child of one manager generation is made from."""

    name: str
    """The host component's resource name (children are named after it)."""
    manager: ManagerSpec
    """The host's view of the fleet."""
    generation: str
    """The generation (`domain/generation.py`) that names the objects."""
    image: docker.RemoteImage
    """The runner image."""
    config_dir: docker.ContainerVolumeArgs
    """The generation's config volume, mounted at CONFIG_DIR."""

    def object_name(self, of: Callable[[str, str, str], str]) -> str:
        """A Docker object name of this generation (`labels.manager_name`, `labels.config_writer_name`...)."""
        return of(self.manager.stack, self.manager.host.key, self.generation)


def _healthcheck(inputs: gen.ManagerInputs) -> docker.ContainerHealthcheckArgs:
    interval, timeout, start_period, start_interval, retries = inputs.health_timing
    return docker.ContainerHealthcheckArgs(
        tests=list(inputs.healthcheck),
        interval=interval,
        timeout=timeout,
        start_period=start_period,
        start_interval=start_interval,
        retries=retries,
    )


def _digest(files: list[str | None]) -> str:
    return config_toml.checksum(files[0] or "", files[1])


class DockerRunnerHost(pulumi.ComponentResource):
    manager_name: pulumi.Output[str]
    generation: str
    """The manager's generation (`domain/generation.py`), known before anything is declared."""

    def __init__(self, name: str, args: DockerRunnerHostArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:docker_host:DockerRunnerHost", name, None, opts)
        manager = args.manager
        if not isinstance(manager.host.target, DockerTarget):
            raise TypeError(f"host {manager.host.key!r} is not a Docker host")
        inputs = marks.manager_inputs(manager)
        self.generation = generation = inputs.generation
        stack, key = manager.stack, manager.host.key
        child = pulumi.ResourceOptions(parent=self)

        image = docker.RemoteImage(
            naming.child(name, naming.DOCKER_IMAGE), name=inputs.image, keep_locally=True, opts=child
        )
        volume = docker.Volume(
            naming.child(name, naming.DOCKER_CONFIG_VOLUME),
            name=marks.config_volume_name(stack, key, generation),
            labels=_volume_labels(_labels(manager, marks.ROLE_CONFIG, generation)),
            # Used by the draining manager until it is gone: the successor gets its own, created first.
            opts=pulumi.ResourceOptions(parent=self, delete_before_replace=CREATE_FIRST),
        )
        config_dir = docker.ContainerVolumeArgs(volume_name=volume.name, container_path=CONFIG_DIR)
        # The manager's own network: job containers run on the default bridge (or per-build networks), and
        # Docker isolates bridge networks from each other, so no job reaches the manager's listener.
        network = docker.Network(
            naming.child(name, naming.DOCKER_NETWORK),
            name=inputs.network,
            driver="bridge",
            labels=[
                docker.NetworkLabelArgs(label=x.label, value=x.value) for x in _labels(manager, marks.ROLE_NETWORK)
            ],
            opts=child,
        )
        parts = _Generation(name, manager, generation, image, config_dir)
        writer, uploaded = self._writer(parts, args)
        container = self._manager(parts, inputs, network, writer)
        self._reloader(parts, container, uploaded)
        self.manager_name = container.name
        self.register_outputs({"managerName": self.manager_name, "generation": generation})

    def _writer(self, parts: _Generation, args: DockerRunnerHostArgs) -> tuple[docker.Container, pulumi.Output[str]]:
        """The never-started container that uploads the generation's files; and the digest of what it uploaded."""
        name, manager, generation = parts.name, parts.manager, parts.generation
        config = secret(rendered_config(manager, args.tokens, args.secrets))
        identity = gen.docker_system_id(manager.stack, manager.host.key, generation)
        uploads = [
            docker.ContainerUploadArgs(file=CONFIG_FILE, content=config, permissions="0600"),
            docker.ContainerUploadArgs(file=SYSTEM_ID_FILE, content=identity, permissions="0600"),
        ]
        volumes = [parts.config_dir]
        ca = ca_bundle(manager, args.secrets)
        if ca is not None:
            # The manager reads the CA next to config.toml; jobs mount a volume that holds the CA alone.
            ca_volume = docker.Volume(
                naming.child(name, naming.DOCKER_CA_VOLUME),
                name=marks.ca_volume_name(manager.stack, manager.host.key),
                labels=_volume_labels(_labels(manager, marks.ROLE_GITLAB_CA)),
                opts=pulumi.ResourceOptions(parent=self),
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
            name=parts.object_name(marks.config_writer_name),
            image=parts.image.image_id,
            start=False,  # never runs: created only to upload config.toml (and the CA) into the volumes
            must_run=False,
            volumes=volumes,
            uploads=uploads,
            labels=_labels(manager, marks.ROLE_CONFIG_WRITER, generation),
            # Left to the provider (delete-first): within a generation its name stays, so it cannot be create-first.
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The digest as the new config writer has it: the reloader waits for (and is replaced with) each upload.
        uploaded = pulumi.Output.all(writer.id, pulumi.Output.all(config, ca).apply(_digest)).apply(lambda v: v[1])
        return writer, uploaded

    def _manager(
        self, parts: _Generation, inputs: gen.ManagerInputs, network: docker.Network, writer: docker.Container
    ) -> docker.Container:
        """The manager container, every input that forces its replacement taken from `inputs` (its generation)."""
        drain = parts.manager.drain_seconds
        timeouts = manager_timeouts(drain)
        return docker.Container(
            naming.child(parts.name, naming.DOCKER_MANAGER),
            name=parts.object_name(marks.manager_name),
            # By reference, as the generation hashes it (an output of the RemoteImage, so the pull comes first): the
            # provider's Read keeps a reference in the form given (Config.Image), whereas an image id read back after
            # a moved tag was re-pulled would replace the manager under its own name, which Docker refuses.
            image=parts.image.name,
            restart="unless-stopped",
            must_run=True,
            volumes=[parts.config_dir],
            mounts=[docker.ContainerMountArgs(type=t, source=s, target=d) for t, s, d in inputs.mounts],
            networks_advanced=[docker.ContainerNetworksAdvancedArgs(name=network.name)],
            # Metrics and /debug on the host's loopback only, at a port Docker picks (`external` is Optional and
            # Computed in the provider): a successor never wants the port its draining predecessor holds. Find it
            # with `docker port <manager>` or Prometheus' docker_sd_configs; a job's 127.0.0.1 is its own container.
            ports=[docker.ContainerPortArgs(internal=i, ip=ip, protocol=p) for i, ip, p in inputs.ports],
            privileged=inputs.privileged,
            security_opts=list(inputs.security_opts),
            capabilities=docker.ContainerCapabilitiesArgs(drops=list(inputs.capability_drops)),
            envs=list(inputs.envs) or None,
            entrypoints=list(inputs.entrypoints) or None,
            command=list(inputs.command) or None,
            # SIGQUIT: stop taking jobs, finish the running ones, exit. SIGTERM would abort them.
            stop_signal=inputs.stop_signal,
            # Every input that forces a replacement comes from the host alone (never from its runners), so adding
            # a runner or changing a timeout never replaces the manager. The stop timeout is one of them: a
            # constant. runner-fleet's own stops wait for the drain: the provider stops with destroyGraceSeconds
            # (updated in place) under a delete timeout that covers it.
            stop_timeout=MANAGER_STOP_TIMEOUT,
            destroy_grace_seconds=drain,
            log_driver=inputs.log_driver,
            # The create waits until the new manager is healthy (its listener answers): a successor that exits or
            # crash-loops fails the run before the engine stops the old manager (see the module docstring).
            healthcheck=_healthcheck(inputs),
            wait=True,
            wait_timeout=gen.WAIT_SECONDS,
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in sorted((*inputs.labels, (marks.GENERATION, inputs.generation)))
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                depends_on=[writer],
                # Create-first: the successor runs before the old manager is stopped (see the module docstring).
                # Not with docker-autoscaler runners: a manager that starts removes every instance of its runners'
                # groups, those running the old manager's jobs included, and two managers must never scale one
                # group (runner docs: state_storage, "Dedicated autoscaling groups"). Such a host is replaced
                # delete-first, and the impact report says its capacity drops to zero for the drain.
                delete_before_replace=DELETE_FIRST if fleeting.overlap_unsafe(parts.manager) else CREATE_FIRST,
                # Stacks deployed before the stop timeout became a constant keep theirs until the manager is
                # replaced for another reason: changing it alone would replace (and drain) every manager once.
                ignore_changes=["stopTimeout"],
                custom_timeouts=pulumi.CustomTimeouts(
                    create=timeouts.create, update=timeouts.update, delete=timeouts.delete
                ),
            ),
        )

    def _reloader(
        self, parts: _Generation, container: docker.Container, digest: pulumi.Output[str]
    ) -> docker.Container:
        """A short-lived container in the manager's PID namespace that sends it SIGHUP: gitlab-runner reloads
        config.toml at once. It is replaced (and so runs again) whenever the config's digest changes, after the
        new config writer has uploaded the file, so a reload never depends on file times or clocks."""
        labels = _labels(parts.manager, marks.ROLE_CONFIG_RELOADER, parts.generation)
        # A digest of the config is not the config: plain, so that the plan shows when a reload happens.
        labels.append(docker.ContainerLabelArgs(label=marks.CONFIG_DIGEST, value=pulumi.Output.unsecret(digest)))
        return docker.Container(
            naming.child(parts.name, naming.DOCKER_CONFIG_RELOADER),
            name=parts.object_name(marks.config_reloader_name),
            image=parts.image.image_id,
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
