"""The typed, frozen model of one stack's fleet: what `components/spec/` produces and everything else consumes.

Nothing here reads configuration, renders files or declares resources. The spec builds these objects once,
after every check has passed; the renderers and the components only read them. Every default of the stack
file lives here, as a field default or as one of the `default_*` functions for defaults that depend on another
key. Contract: README.md ("Stack file reference").
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from typing import Any

from components.domain import images, versions
from components.domain.autoscaler import AutoscalerSpec
from components.domain.cache import CacheSpec
from components.domain.rotation import Rotation
from components.domain.site import CaBundle, Proxy
from components.domain.targets import Executor, Target

PROJECT = "runner-fleet"
"""The Pulumi project (Pulumi.yaml's name), and so the namespace of every stack key (`runner-fleet:hosts`)."""

REDACTED = "[secret]"
"""How a secret value is shown in every file, message and report runner-fleet writes."""

OFFLINE_PLACEHOLDER = "mock-secret-value-of-"
"""How the offline plan's stand-ins for secret config values begin (`components/plan/stack_file.py`): checks of
a secret's content (a CA bundle in a secret key) cannot judge them and let them pass."""

RETIRING = " (retiring)"
"""Ends the description of a registration that token rotation is retiring: paused, taking no jobs, and left
unprotected on purpose so that the next `pulumi up` can remove it (the production policies exempt it)."""

DEFAULT_JOB_TIMEOUT = 3600
"""Seconds: GitLab's default project job timeout, declared as the maximum timeout of a runner without `maximumTimeout`
(the provider cannot clear the value, so unset must still be a value the drain and the rotation's pause agree with)."""

DRAIN_MARGIN_SECONDS = 60
"""Seconds a manager gets after its longest job: upload logs and artifacts, unregister, exit."""

BUILDKIT_ALLOWED_IMAGES = images.buildkit_allowed_images(None)
"""The images a BuildKit runner may start unconfined unless `allowedImages` or a mirror says otherwise."""


class Tier(enum.StrEnum):
    """GitLab's deployment tiers: what a stack is for; drives protection defaults and policy severity."""

    PRODUCTION = "production"
    STAGING = "staging"
    TESTING = "testing"
    DEVELOPMENT = "development"
    OTHER = "other"


def default_protect(tier: Tier) -> bool:
    """Registrations and variables of a production stack are protected against deletion unless said otherwise."""
    return tier is Tier.PRODUCTION


class ScopeKind(enum.StrEnum):
    """Where a runner registration lives in GitLab (`runner_type` of POST /user/runners)."""

    INSTANCE = "instance"
    GROUP = "group"
    PROJECT = "project"


class LogFormat(enum.StrEnum):
    """gitlab-runner's `log_format`."""

    RUNNER = "runner"
    TEXT = "text"
    JSON = "json"


class LogLevel(enum.StrEnum):
    """gitlab-runner's `log_level`."""

    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    FATAL = "fatal"
    PANIC = "panic"


class PullPolicy(enum.StrEnum):
    """A runner's image pull policy (also the only one its jobs may ask for)."""

    ALWAYS = "always"
    IF_NOT_PRESENT = "if-not-present"
    NEVER = "never"


class AccessLevel(enum.StrEnum):
    """GitLab's `access_level` of a runner: which refs' jobs it takes."""

    NOT_PROTECTED = "not_protected"
    REF_PROTECTED = "ref_protected"


class VariableType(enum.StrEnum):
    """GitLab's `variable_type` of a CI/CD variable."""

    ENV_VAR = "env_var"
    FILE = "file"


@dataclass(frozen=True)
class Scope:
    """Exactly one of instance, group or project."""

    kind: ScopeKind
    """Instance, group or project runner."""
    ref: int | str | None = None
    """The group or project: a numeric id or a full path; None for instance runners."""

    @property
    def runner_type(self) -> str:
        return f"{self.kind.value}_type"


@dataclass(frozen=True)
class HostSpec:
    """A place where one gitlab-runner manager runs and serves every runner placed on it."""

    key: str
    """The host key in the stack file; part of resource and object names."""
    target: Target
    """The Docker engine or Kubernetes namespace the manager runs on."""
    concurrent: int = 4
    """The manager's global job limit (config.toml `concurrent`), in jobs; 4 by default."""
    check_interval: int = 3
    """Seconds between the manager's job requests; 3 by default."""
    shutdown_timeout: int = 30
    """Seconds gitlab-runner waits for a forced shutdown to finish; 30 by default."""
    log_format: LogFormat = LogFormat.JSON
    """gitlab-runner's log format; JSON by default."""
    log_level: LogLevel = LogLevel.INFO
    """gitlab-runner's log level; info by default."""
    runner_image: str = versions.RUNNER_IMAGE
    """The manager's image; default `default_runner_image(registry mirror)`."""
    proxy: Proxy | None = None
    """The outbound proxy of the manager and of its runners' jobs; none by default."""

    @property
    def executor(self) -> Executor:
        return self.target.executor


def field_default(cls: type, name: str) -> Any:
    """The default of a model field (for code that must decide before the object exists)."""
    (found,) = [f for f in dataclasses.fields(cls) if f.name == name]
    if found.default is dataclasses.MISSING:
        raise TypeError(f"{cls.__name__}.{name} has no default")
    return found.default


def default_runner_image(mirror: str | None = None) -> str:
    """The manager's image: the pinned gitlab-runner release, from the registry mirror when there is one."""
    return images.mirrored(versions.RUNNER_IMAGE, mirror)


def default_job_image(buildkit: bool, mirror: str | None = None) -> str:
    """A runner's default job image: rootless BuildKit for BuildKit runners, a small Alpine otherwise; from the
    registry mirror when there is one."""
    return images.mirrored(versions.BUILDKIT_IMAGE if buildkit else versions.DEFAULT_JOB_IMAGE, mirror)


def default_allowed_images(buildkit: bool, mirror: str | None = None) -> tuple[str, ...]:
    """A BuildKit runner may start only rootless BuildKit images (under the mirror, when there is one); other
    runners any image."""
    return images.buildkit_allowed_images(mirror) if buildkit else ()


def default_run_untagged(tags: tuple[str, ...]) -> bool:
    """A runner without tags runs untagged jobs (GitLab refuses a runner that would run none)."""
    return not tags


@dataclass(frozen=True)
class HostDirectory:
    """A directory of a Docker host that a runner's job containers see (checked by components.domain.host_paths)."""

    host_path: str
    """The directory on the host, normalised (absolute, no `//`, `.`, `..` or trailing `/`)."""
    mount_path: str
    """Where jobs see it, normalised."""
    read_only: bool = False
    """Mounted read-only; read-write by default."""

    @property
    def volume(self) -> str:
        """The docker executor's `volumes` entry."""
        return f"{self.host_path}:{self.mount_path}" + (":ro" if self.read_only else "")


@dataclass(frozen=True)
class RunnerSpec:
    """One GitLab runner registration (one glrt- token), placed on one host."""

    key: str
    """The runner key in the stack file; part of resource names."""
    host: str
    """Key of the host whose manager runs this runner."""
    scope: Scope
    """Instance, group or project runner."""
    tags: tuple[str, ...]
    """Job tags it takes, sorted and without duplicates."""
    image: str
    """Default job image; default `default_job_image(buildkit)`."""
    allowed_images: tuple[str, ...]
    """Image globs jobs may use (empty: any); default `default_allowed_images(buildkit)`."""
    buildkit: bool = False
    """Rootless BuildKit profile (seccomp/AppArmor unconfined build container); asked for, never implied."""
    protected_only: bool = False
    """Takes jobs of protected branches and tags only; off by default."""
    run_untagged: bool = False
    """Takes untagged jobs; default `default_run_untagged(tags)`."""
    locked: bool = False
    """Locked to its project (project runners only); off by default."""
    paused: bool = False
    """Registered but takes no jobs; off by default."""
    maximum_timeout: int | None = None
    """Seconds a job may run at most (>= 600); unset: DEFAULT_JOB_TIMEOUT, declared to GitLab all the same."""
    limit: int = 0
    """Concurrent jobs of this runner; 0 (the default) means no limit beyond the host's `concurrent`."""
    pull_policy: PullPolicy = PullPolicy.ALWAYS
    """Image pull policy; always by default."""
    extra_config: str = ""
    """TOML merged into this runner's [[runners]] entry; empty by default."""
    host_directories: tuple[HostDirectory, ...] = ()
    """Host directories its jobs see (Docker hosts, not BuildKit runners); none by default."""
    cache: CacheSpec | None = None
    """Its distributed cache: its own, else the fleet's; none by default."""
    registry_auth: str | None = None
    """Secret config key holding a Docker config.json for its jobs' image pulls; none by default."""
    use_host_proxy: bool = True
    """Its jobs get the host's proxy (when the host has one); on by default."""
    token_rotation_days: int = 0
    """Days between token rotations (its own, else the fleet's); 0 (the default): never rotated."""
    rotation: Rotation | None = None
    """Where its registrations stand at the planned moment (components/domain/rotation.py); None without rotation."""
    autoscaler: AutoscalerSpec | None = None
    """Its instance group (docker-autoscaler, Docker hosts only; components/domain/autoscaler.py); none by default:
    jobs run on the host's own engine."""

    @property
    def access_level(self) -> AccessLevel:
        return AccessLevel.REF_PROTECTED if self.protected_only else AccessLevel.NOT_PROTECTED

    @property
    def job_timeout(self) -> int:
        """Seconds: the longest a job on this runner may run (its maximumTimeout, or GitLab's default)."""
        return self.maximum_timeout if self.maximum_timeout is not None else DEFAULT_JOB_TIMEOUT

    @property
    def pause_seconds(self) -> int:
        """Seconds a retiring registration must stay paused before it goes: its longest job plus the margin."""
        return self.job_timeout + DRAIN_MARGIN_SECONDS


@dataclass(frozen=True)
class VariableSpec:
    """A CI/CD variable; identity is (owner kind, owner, key, environment scope)."""

    owner_kind: ScopeKind
    """PROJECT or GROUP."""
    owner: str
    """The project or group: a numeric id or a full path, as text."""
    key: str
    """The variable's name."""
    value: str | None = None
    """The plain value, or None when `secret` names a config key."""
    secret: str | None = None
    """Name of the secret config key holding the value, or None for a plain value."""
    masked: bool = False
    """Masked in job logs; off by default."""
    protected: bool = False
    """Only for protected branches and tags; off by default."""
    raw: bool = False
    """No `$VAR` expansion; off by default."""
    environment_scope: str = "*"
    """Environments it applies to; all (`*`) by default."""
    variable_type: VariableType = VariableType.ENV_VAR
    """An environment variable (default) or a file."""
    hidden: bool | None = None
    """Masked and hidden (GitLab >= 17.4, settable only at creation); None: not declared (GitLab's default)."""

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.owner_kind.value, self.owner, self.key, self.environment_scope)


@dataclass(frozen=True)
class ManagerSpec:
    """One host's view of the fleet: what its manager's config.toml, objects and container are made from."""

    stack: str
    """The Pulumi stack name."""
    gitlab_url: str
    """The GitLab instance the runners connect to, without a trailing slash."""
    host: HostSpec
    """Where the manager runs and its global settings."""
    runners: tuple[RunnerSpec, ...]
    """The runners placed on this host, sorted by key."""
    drain_seconds: int
    """Seconds the manager may take to finish running jobs when stopped: longest job timeout + DRAIN_MARGIN_SECONDS."""
    gitlab_ca: CaBundle | None = None
    """The CA that signs the GitLab instance, trusted by the manager and its jobs; none by default."""
    registry_mirror: str | None = None
    """The registry every image runner-fleet chooses comes from; none by default."""


@dataclass(frozen=True)
class FleetSpec:
    """One stack's fleet, valid as a whole. Hosts and runners are sorted by key."""

    stack: str
    """The Pulumi stack name."""
    gitlab_url: str
    """The GitLab instance the runners connect to, without a trailing slash."""
    hosts: tuple[HostSpec, ...]
    """Every host, sorted by key."""
    runners: tuple[RunnerSpec, ...]
    """Every runner, sorted by key."""
    variables: tuple[VariableSpec, ...] = ()
    """CI/CD variables, sorted by identity; none by default."""
    cache: CacheSpec | None = None
    """The runners' distributed cache unless a runner sets its own; none by default."""
    gitlab_ca: CaBundle | None = None
    """The CA that signs the GitLab instance; none by default (the system's public CAs)."""
    registry_mirror: str | None = None
    """The registry every image runner-fleet chooses comes from; none by default (the upstream registries)."""
    token_rotation_days: int = 0
    """Days between token rotations of every runner unless one sets its own; 0 (the default): off."""
    tier: Tier = Tier.DEVELOPMENT
    """What the stack is for; development by default."""
    protect: bool = False
    """Deletion protection of registrations and variables; default `default_protect(tier)`."""
    secret_keys: frozenset[str] = frozenset()
    """Config keys referenced as secrets (variables, Docker TLS, kubeconfig); none by default."""
    warnings: tuple[str, ...] = ()
    """Legal but probably unintended settings, as `key.path: message`, logged on every run; none by default."""

    def runners_on(self, host_key: str) -> tuple[RunnerSpec, ...]:
        return tuple(r for r in self.runners if r.host == host_key)

    def manager(self, host: HostSpec) -> ManagerSpec:
        """The view of the fleet that `host`'s manager is built from."""
        runners = self.runners_on(host.key)
        longest = max((r.job_timeout for r in runners), default=DEFAULT_JOB_TIMEOUT)
        return ManagerSpec(
            stack=self.stack,
            gitlab_url=self.gitlab_url,
            host=host,
            runners=runners,
            drain_seconds=longest + DRAIN_MARGIN_SECONDS,
            gitlab_ca=self.gitlab_ca,
            registry_mirror=self.registry_mirror,
        )

    @property
    def managers(self) -> tuple[ManagerSpec, ...]:
        """One manager per host, in host order."""
        return tuple(self.manager(host) for host in self.hosts)
