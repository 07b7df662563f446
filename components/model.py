"""The typed, frozen model of one stack's fleet: what `spec.py` produces and every component consumes.

Nothing here reads configuration or declares resources; `spec.py` builds these objects once, after every
check has passed. Contract: ../README.md ("Stack file reference") and ARCHITECTURE.md section 3.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from components import versions


class ScopeKind(enum.StrEnum):
    """Where a runner registration lives in GitLab (`runner_type` of POST /user/runners)."""

    INSTANCE = "instance"
    GROUP = "group"
    PROJECT = "project"


class Executor(enum.StrEnum):
    DOCKER = "docker"
    KUBERNETES = "kubernetes"


class LogFormat(enum.StrEnum):
    RUNNER = "runner"
    TEXT = "text"
    JSON = "json"


class LogLevel(enum.StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARN = "warn"
    ERROR = "error"
    FATAL = "fatal"
    PANIC = "panic"


class PullPolicy(enum.StrEnum):
    ALWAYS = "always"
    IF_NOT_PRESENT = "if-not-present"
    NEVER = "never"


class AccessLevel(enum.StrEnum):
    NOT_PROTECTED = "not_protected"
    REF_PROTECTED = "ref_protected"


class VariableType(enum.StrEnum):
    ENV_VAR = "env_var"
    FILE = "file"


@dataclass(frozen=True)
class Scope:
    """Exactly one of instance, group or project; `ref` is a numeric id or a full path."""

    kind: ScopeKind
    ref: int | str | None = None

    @property
    def runner_type(self) -> str:
        return f"{self.kind.value}_type"

    @property
    def is_path(self) -> bool:
        return isinstance(self.ref, str)


@dataclass(frozen=True)
class DockerTls:
    """Names of secret config keys that hold the PEM material for a tcp:// Docker engine."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class DockerTarget:
    url: str
    ssh_opts: tuple[str, ...] = ()
    cert_path: str | None = None
    tls: DockerTls | None = None

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]


@dataclass(frozen=True)
class KubernetesTarget:
    namespace: str
    job_namespace: str
    context: str | None = None
    kubeconfig: str | None = None  # name of a secret config key holding kubeconfig contents
    node_selector: tuple[tuple[str, str], ...] = ()
    tolerations: tuple[tuple[str, str], ...] = ()  # ("key=value", "Effect") as config.toml wants them
    apparmor_fallback: bool = False  # clusters < 1.30: annotation instead of the appArmorProfile field


@dataclass(frozen=True)
class HostSpec:
    key: str
    concurrent: int
    docker: DockerTarget | None = None
    kubernetes: KubernetesTarget | None = None
    check_interval: int = 3
    shutdown_timeout: int = 30
    log_format: LogFormat = LogFormat.JSON
    log_level: LogLevel = LogLevel.INFO
    runner_image: str = versions.RUNNER_IMAGE

    @property
    def executor(self) -> Executor:
        return Executor.DOCKER if self.docker is not None else Executor.KUBERNETES


@dataclass(frozen=True)
class RunnerSpec:
    key: str
    host: str
    scope: Scope
    tags: tuple[str, ...]
    image: str
    allowed_images: tuple[str, ...]
    buildkit: bool = False
    protected_only: bool = False
    run_untagged: bool = False
    locked: bool = False
    paused: bool = False
    maximum_timeout: int | None = None
    limit: int = 0
    pull_policy: PullPolicy = PullPolicy.ALWAYS
    extra_config: str = ""  # TOML merged into this runner's [[runners]] entry

    @property
    def access_level(self) -> AccessLevel:
        return AccessLevel.REF_PROTECTED if self.protected_only else AccessLevel.NOT_PROTECTED

    @property
    def job_timeout(self) -> int:
        """Longest a job on this runner may run: its maximumTimeout, or GitLab's default of one hour."""
        return self.maximum_timeout if self.maximum_timeout is not None else versions.DEFAULT_JOB_TIMEOUT


@dataclass(frozen=True)
class VariableSpec:
    """A CI/CD variable; identity is (owner kind, owner, key, environment scope)."""

    owner_kind: ScopeKind  # PROJECT or GROUP
    owner: str
    key: str
    value: str | None = None  # plain value, or None when `secret` names a config key
    secret: str | None = None
    masked: bool = False
    protected: bool = False
    raw: bool = False
    environment_scope: str = "*"
    variable_type: VariableType = VariableType.ENV_VAR

    @property
    def identity(self) -> tuple[str, str, str, str]:
        return (self.owner_kind.value, self.owner, self.key, self.environment_scope)


@dataclass(frozen=True)
class FleetSpec:
    """One stack's fleet, valid as a whole. Hosts and runners are sorted by key."""

    stack: str
    gitlab_url: str
    hosts: tuple[HostSpec, ...]
    runners: tuple[RunnerSpec, ...]
    variables: tuple[VariableSpec, ...] = ()
    protect: bool = False
    secret_keys: frozenset[str] = field(default_factory=frozenset)  # config keys referenced as secrets
    warnings: tuple[str, ...] = ()  # legal but probably unintended; logged on every run

    def host(self, key: str) -> HostSpec:
        return next(h for h in self.hosts if h.key == key)

    def runners_on(self, host_key: str) -> tuple[RunnerSpec, ...]:
        return tuple(r for r in self.runners if r.host == host_key)

    def drain_seconds(self, host_key: str) -> int:
        """How long a manager may take to finish running jobs: the longest job timeout plus a margin."""
        timeouts = [r.job_timeout for r in self.runners_on(host_key)] or [versions.DEFAULT_JOB_TIMEOUT]
        return max(timeouts) + versions.DRAIN_MARGIN_SECONDS
