"""docker-autoscaler runners (`runners.<r>.autoscaler`): model and config.toml table (the manager: `fleeting.py`).

Part of the model (frozen, every default here, nothing read or declared). A runner with `autoscaler` uses
gitlab-runner's `docker-autoscaler` executor on its Docker host's manager: the manager asks a fleeting plugin to
grow and shrink a cloud instance group (an AWS Auto Scaling group, a Google Cloud instance group, an Azure scale
set, created outside runner-fleet) and runs each job's containers on an instance through the Docker executor, so
the runner's `[runners.docker]` section (images, BuildKit's relaxation) applies to those containers unchanged
(gitlab-runner main.go registers `docker-autoscaler` as `autoscaler.NewProvider(dockerProvider)`;
executors/docker/docker.go tunnels the Docker API to the instance and creates containers with `SecurityOpt`).

Facts from gitlab-runner's source (v19.3.0 line) that shape this module:
- `common/config.go` AutoscalerConfig / ConnectorConfig / AutoscalerPolicyConfig: the config.toml keys.
- `executors/internal/autoscaler/provider.go`: the plugin, its config, the connector and the capacity settings are
  read once per runner when its taskscaler starts and kept until the process exits; only `[[runners.autoscaler
  .policy]]` is re-applied on a config reload (also docs/configuration/advanced-configuration.md: "Autoscaler
  configuration options don't reload with configuration changes"). So everything else needs a new manager.
- `commands/fleeting/fleeting.go`: `gitlab-runner fleeting install` reads config.toml, and for each runner's plugin
  that `installer.LookPath` does not find locally, downloads it from its OCI registry (no registry login for the
  public registry.gitlab.com); a plugin already installed is skipped without network. The runner resolves the
  plugin at its taskscaler's start with the same LookPath and fails the runner's jobs when it is missing.
- docs/fleet_scaling/fleeting.md: `plugin` is `[<registry>/][<repository>/]<name>[:<version constraint>]`,
  default registry.gitlab.com / gitlab-org/fleeting/plugins / latest; constraints are `latest`, `MAJOR`,
  `MAJOR.MINOR` (the newest match) and `MAJOR.MINOR.PATCH` (that version). Only the last is pinned.
- docs (state_storage): a manager that starts without state storage removes every existing instance of its
  group; docs/executors/docker_autoscaler.md: an instance group is never shared between runners or managers.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EXECUTOR = "docker-autoscaler"
"""The runner's `executor` in config.toml."""

DEFAULT_REGISTRY = "registry.gitlab.com"
DEFAULT_REPOSITORY = "gitlab-org/fleeting/plugins"
"""Where a plugin named without a registry or repository comes from (docs/fleet_scaling/fleeting.md)."""

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"  # an OCI repository path component
_REGISTRY = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(?:\.[A-Za-z0-9-]{1,63})*(?::[0-9]{1,5})?")
_NAME = re.compile(_COMPONENT)
PINNED_VERSION = re.compile(r"(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})\.(0|[1-9][0-9]{0,8})")
"""`MAJOR.MINOR.PATCH`: the one constraint that selects exactly one version."""
_RANGE = re.compile(r"latest|[0-9]{1,9}(?:\.[0-9]{1,9})?")
MAX_PLUGIN = 255


@dataclass(frozen=True)
class PluginRef:
    """A fleeting plugin as gitlab-runner takes it, pinned to one version."""

    reference: str
    """As written in the stack file, rendered verbatim into config.toml."""
    registry: str
    """The OCI registry (DEFAULT_REGISTRY when the reference names none)."""
    repository: str
    """The repository path before the name (DEFAULT_REPOSITORY when the reference names none)."""
    name: str
    """The plugin's name (`aws`)."""
    version: str
    """The exact version, MAJOR.MINOR.PATCH."""

    @property
    def official(self) -> str | None:
        """`aws`, `googlecloud` or `azure` for GitLab's own plugins (from any registry that mirrors them)."""
        own = self.repository == DEFAULT_REPOSITORY or self.repository.endswith("/" + DEFAULT_REPOSITORY)
        return self.name if own and self.name in OFFICIAL_PLUGINS else None


class PluginProblem(ValueError):
    """Why a plugin reference is refused (never repeating it: it may be something pasted by mistake)."""


def _split(text: str) -> tuple[str, str, str, str]:
    """(registry, repository, name, version) as written (empty when absent)."""
    head, _, last = text.rpartition("/")
    name, _, version = last.partition(":")
    parts = head.split("/") if head else []
    if parts and (("." in parts[0] or ":" in parts[0]) or parts[0] == "localhost"):
        return parts[0], "/".join(parts[1:]), name, version
    return "", "/".join(parts), name, version


def parse_plugin(text: str) -> PluginRef:
    """The plugin `text` names, pinned; raises PluginProblem saying why not (without repeating the text when it is
    not a reference at all)."""
    if len(text) > MAX_PLUGIN or not text.isascii() or any(c.isspace() for c in text):
        raise PluginProblem(f"expected a plugin reference of at most {MAX_PLUGIN} ASCII characters without spaces")
    if "@" in text:
        raise PluginProblem(
            "gitlab-runner takes a version constraint after ':', not a digest (fleeting install and the runner look "
            "plugins up by version); pin an exact version such as aws:1.0.0"
        )
    registry, repository, name, version = _split(text)
    if registry and not repository:
        raise PluginProblem("expected <registry>/<repository>/<name>[:<version>]: the registry has no repository")
    if (registry and not _REGISTRY.fullmatch(registry)) or not all(
        _NAME.fullmatch(part) for part in [*filter(None, repository.split("/")), name]
    ):
        raise PluginProblem(
            "expected [<registry>/][<repository>/]<name>:<MAJOR.MINOR.PATCH> with lower-case path components "
            "(docs/fleet_scaling/fleeting.md)"
        )
    if not PINNED_VERSION.fullmatch(version):
        example = f"{name.removeprefix('fleeting-plugin-')}:1.0.0"
        if not version and not repository and name.startswith("fleeting-plugin-"):
            why = "names a binary on the manager's PATH, which the gitlab-runner image does not carry"
        elif not version or version == "latest":
            why = "is not pinned: gitlab-runner installs and runs the newest version there is"
        elif _RANGE.fullmatch(version):
            why = f"is not pinned: gitlab-runner installs and runs the newest {version}.x there is"
        else:
            why = "has no version constraint gitlab-runner knows"
        raise PluginProblem(f"{text!r} {why}; pin an exact version, e.g. {example} (MAJOR.MINOR.PATCH)")
    return PluginRef(text, registry or DEFAULT_REGISTRY, repository or DEFAULT_REPOSITORY, name, version)


@dataclass(frozen=True)
class PluginKeys:
    """The `plugin_config` keys of one of GitLab's plugins (its README's configuration table)."""

    required: tuple[str, ...]
    """Keys without which the plugin cannot find its instance group; together they name it."""
    optional: tuple[str, ...] = ()
    """Keys it may also take."""
    refused: Mapping[str, str] = field(default_factory=dict)
    """Keys it knows that runner-fleet refuses, and why."""

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


_NO_FILES = (
    "names a file in the manager container, which holds only what runner-fleet delivers (config.toml, the CA); "
    "give the Docker host a cloud identity instead ({})"
)
OFFICIAL_PLUGINS: Mapping[str, PluginKeys] = {
    # gitlab.com/gitlab-org/fleeting/plugins/aws: name (the Auto Scaling group), region, profile, config_file,
    # credentials_file (runner docs: executors/docker_autoscaler.md, executors/instance.md). Without a config file
    # the region has nowhere else to come from.
    "aws": PluginKeys(
        required=("name", "region"),
        refused=dict.fromkeys(("profile", "config_file", "credentials_file"), _NO_FILES.format("an instance profile")),
    ),
    # .../plugins/googlecloud: name (the instance group), project, zone, credentials_file.
    "googlecloud": PluginKeys(
        required=("name", "project", "zone"),
        refused={"credentials_file": _NO_FILES.format("the VM's service account or workload identity")},
    ),
    # .../plugins/azure: name (the scale set), subscription_id, resource_group_name.
    "azure": PluginKeys(required=("name", "subscription_id", "resource_group_name")),
}
"""GitLab's own plugins and their `plugin_config` keys; other plugins' keys pass through with a warning."""


class Protocol(enum.StrEnum):
    """How the manager reaches an instance: SSH (WinRM is for Windows instances, which BuildKit jobs never use)."""

    SSH = "ssh"


class InstanceOs(enum.StrEnum):
    """The instances' operating system: runner-fleet's Docker job settings are Linux ones."""

    LINUX = "linux"


class InstanceArch(enum.StrEnum):
    """The instances' architecture (Go's GOARCH names, as the runner's images are built for)."""

    AMD64 = "amd64"
    ARM64 = "arm64"
    S390X = "s390x"
    PPC64LE = "ppc64le"
    RISCV64 = "riscv64"


@dataclass(frozen=True)
class ConnectorConfig:
    """`[runners.autoscaler.connector_config]`: how the manager connects to an instance; unset keys are left to
    the plugin, which fills what it knows (AWS: ec2-user, ssh, a key pushed with EC2 Instance Connect)."""

    username: str | None = None
    """The instance user the manager connects as (a member of the `docker` group)."""
    use_external_addr: bool = False
    """Connect to the instance's external address; off by default (the internal one)."""
    protocol: Protocol | None = None
    """ssh; unset: the plugin's default."""
    protocol_port: int | None = None
    """The port of the protocol; unset: 22 for ssh."""
    os: InstanceOs | None = None
    """linux; unset: the plugin's default."""
    arch: InstanceArch | None = None
    """The instances' architecture; unset: the plugin's default."""
    timeout: int | None = None
    """Seconds to wait for a connection; unset: the runner's default."""
    keepalive: int | None = None
    """Seconds between keepalives; unset: the runner's default."""
    use_static_credentials: bool = False
    """Connect with `username` and `password` instead of credentials the plugin provisions; off by default."""
    password: str | None = None
    """Secret config key holding the password (with useStaticCredentials)."""


@dataclass(frozen=True)
class ScalingPolicy:
    """One `[[runners.autoscaler.policy]]`: the idle capacity wanted during some periods (the last match wins)."""

    periods: tuple[str, ...] = ()
    """5-field unix-cron expressions of when it applies; none: always (the runner's `* * * * *`)."""
    timezone: str | None = None
    """IANA time zone the periods are read in; unset: the manager's (UTC in its image)."""
    idle_count: int = 0
    """Idle job slots to keep ready (jobs, not instances); 0 by default."""
    idle_time: int | None = None
    """Seconds an instance may stay idle before it is removed (unless idleCount needs it); unset: the runner's."""
    scale_factor: float | None = None
    """Idle capacity on top of idleCount, as a factor of the capacity in use; unset: 0."""
    scale_factor_limit: int | None = None
    """The most idle capacity scaleFactor may ask for; unset: no limit."""
    preemptive_mode: bool | None = None
    """Request jobs only when an instance is ready; unset: on exactly when idleCount > 0 (the runner's rule)."""


@dataclass(frozen=True)
class AutoscalerSpec:
    """A runner's instance group and how it scales (`runners.<r>.autoscaler`)."""

    plugin: PluginRef
    """The fleeting plugin, pinned."""
    max_instances: int
    """The most instances the group may have, whatever their state (asked for: 0 would mean no limit)."""
    capacity_per_instance: int = 1
    """Jobs one instance runs at once; 1 by default (a job never shares its instance)."""
    max_use_count: int = 1
    """Jobs an instance runs before it is removed (0: no limit); 1 by default (a fresh instance per job)."""
    plugin_config: str = "{}"
    """`plugin_config` as canonical JSON (keys sorted), without the values `plugin_secrets` fill."""
    plugin_secrets: tuple[tuple[str, str], ...] = ()
    """(plugin_config key, secret config key) for values written as `{secret: <configKey>}`."""
    connector: ConnectorConfig = ConnectorConfig()
    """How the manager connects to instances; the plugin's defaults by default."""
    policies: tuple[ScalingPolicy, ...] = ()
    """Idle policies; none by default (no idle capacity: an instance is created for each job)."""

    @property
    def secret_keys(self) -> tuple[str, ...]:
        """The secret config keys its config.toml table holds values of."""
        own = (self.connector.password,) if self.connector.password else ()
        return tuple(sorted({ref for _, ref in self.plugin_secrets} | set(own)))

    @property
    def instance_group(self) -> tuple[str, str]:
        """What names its instance group: the plugin, and the keys that name the group (all of them for a plugin
        runner-fleet does not know). Two runners with one instance group would both scale it."""
        return instance_group(self.plugin, json.loads(self.plugin_config))


def instance_group(plugin: PluginRef, settings: Mapping[str, Any]) -> tuple[str, str]:
    """The identity of the instance group a plugin with these settings scales, however the plugin is spelled: the
    plugin (short name for GitLab's own, from any registry) and the settings that name the group (every setting for
    a plugin runner-fleet does not know)."""
    path = f"{plugin.registry}/{plugin.repository}/{plugin.name}"
    official = plugin.official
    if official is not None:
        settings = {k: settings.get(k) for k in OFFICIAL_PLUGINS[official].required}
    return path.rsplit("/", 1)[-1] if official else path, json.dumps(dict(settings), sort_keys=True)


# --- config.toml --------------------------------------------------------------------------------


def go_duration(seconds: int) -> str:
    """Seconds as Go's time.Duration prints them (`20m0s`, `1h0m0s`, `0s`): what gitlab-runner's TOML decoder
    reads with time.ParseDuration, and what its own docs write."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _present(table: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in table.items() if v is not None}


def _connector(connector: ConnectorConfig, secrets: Mapping[str, str]) -> dict[str, Any]:
    return _present(
        {
            "username": connector.username,
            "password": secrets[connector.password] if connector.password else None,
            "use_static_credentials": connector.use_static_credentials or None,
            "use_external_addr": connector.use_external_addr,
            "protocol": connector.protocol.value if connector.protocol else None,
            "protocol_port": connector.protocol_port,
            "os": connector.os.value if connector.os else None,
            "arch": connector.arch.value if connector.arch else None,
            "timeout": go_duration(connector.timeout) if connector.timeout is not None else None,
            "keepalive": go_duration(connector.keepalive) if connector.keepalive is not None else None,
        }
    )


def _policy(policy: ScalingPolicy) -> dict[str, Any]:
    return _present(
        {
            "periods": list(policy.periods) or None,
            "timezone": policy.timezone,
            "idle_count": policy.idle_count,
            "idle_time": go_duration(policy.idle_time) if policy.idle_time is not None else None,
            "scale_factor": policy.scale_factor,
            "scale_factor_limit": policy.scale_factor_limit,
            "preemptive_mode": policy.preemptive_mode,
        }
    )


def table(autoscaler: AutoscalerSpec, secrets: Mapping[str, str]) -> dict[str, Any]:
    """The `[runners.autoscaler]` table; values written as secrets come from `secrets` (config key -> value)."""
    plugin_config = json.loads(autoscaler.plugin_config) | {k: secrets[ref] for k, ref in autoscaler.plugin_secrets}
    out: dict[str, Any] = {
        "plugin": autoscaler.plugin.reference,
        "capacity_per_instance": autoscaler.capacity_per_instance,
        "max_use_count": autoscaler.max_use_count,
        "max_instances": autoscaler.max_instances,
        "plugin_config": dict(sorted(plugin_config.items())),
        "connector_config": _connector(autoscaler.connector, secrets),
    }
    if autoscaler.policies:
        out["policy"] = [_policy(p) for p in autoscaler.policies]
    return out
