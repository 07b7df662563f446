"""Read the stack configuration once and turn it into a frozen `FleetSpec`, or say everything that is wrong.

This is the only module that reads `pulumi.Config`. `parse_spec` is pure: it takes the raw values of the
project's config keys and returns a `FleetSpec`, or raises `SpecError` listing every problem, one per
line, each naming its key path, before any resource is declared. The stack file contract is in
README.md ("Stack file reference"); GitLab's rules come from https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user
and https://docs.gitlab.com/ci/variables/.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import pulumi
import pulumi.runtime.config as runtime_config

from components import runner_config, versions
from components.model import (
    DockerTarget,
    DockerTls,
    FleetSpec,
    HostSpec,
    KubernetesTarget,
    LogFormat,
    LogLevel,
    PullPolicy,
    RunnerSpec,
    Scope,
    ScopeKind,
    VariableSpec,
    VariableType,
)

E = TypeVar("E", bound=Any)

TOP_LEVEL_KEYS = ("gitlabUrl", "hosts", "runners", "variables", "protect")
HOST_KEYS = (
    "docker",
    "kubernetes",
    "concurrent",
    "checkInterval",
    "shutdownTimeout",
    "logFormat",
    "logLevel",
    "runnerImage",
)
DOCKER_KEYS = ("host", "sshOpts", "certPath", "tls")
TLS_KEYS = ("ca", "cert", "key")
KUBERNETES_KEYS = (
    "context",
    "namespace",
    "jobNamespace",
    "kubeconfig",
    "nodeSelector",
    "tolerations",
    "appArmorAnnotationFallback",
)
RUNNER_KEYS = (
    "host",
    "scope",
    "tags",
    "buildkit",
    "protectedOnly",
    "runUntagged",
    "locked",
    "paused",
    "maximumTimeout",
    "limit",
    "image",
    "pullPolicy",
    "allowedImages",
    "extraConfig",
)
VARIABLE_KEYS = (
    "project",
    "group",
    "key",
    "value",
    "secret",
    "masked",
    "protected",
    "environmentScope",
    "raw",
    "type",
)

# Host and runner keys become parts of resource, container and Kubernetes object names.
NAME_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,38}[A-Za-z0-9])?$")
K8S_NAMESPACE_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DOCKER_SCHEMES = ("ssh", "tcp", "unix")
VARIABLE_KEY_RE = re.compile(r"^[A-Za-z0-9_]{1,255}$")
# The check GitLab runs on masked values (gitlabhq app/models/concerns/ci/maskable.rb).
MASKABLE_RE = re.compile(r"^[a-zA-Z0-9_+=/@:.~-]{8,}$")
TOLERATION_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


class SpecError(pulumi.RunError):
    """The stack configuration is invalid; `problems` holds one `key.path: message` line each.

    A `pulumi.RunError`, so `pulumi up` prints the lines without a Python traceback.
    """

    def __init__(self, source: str, problems: Iterable[str]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(
            f"{source}: {count} problem{'s' if count != 1 else ''} in the stack configuration; "
            f"nothing was declared:\n{lines}"
        )


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {value!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a map"
    return type(value).__name__


class _Reader:
    """Collects problems while reading untyped config values; every reader returns a safe fallback."""

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.problems.append(f"{path}: {message}")

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(f"{path}: {message}")

    def mapping(self, value: object, path: str, allowed: Iterable[str] | None, what: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(path, f"expected {what}, found {_kind(value)}")
            return None
        if allowed is not None:
            known = tuple(allowed)
            for key in value:
                if key not in known:
                    self.add(f"{path}.{key}", _unknown_key(key, known))
        return value

    def string(self, obj: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
        if key not in obj or obj[key] is None:
            if required:
                self.add(f"{path}.{key}" if path else key, "is required")
            return None
        value = obj[key]
        if not isinstance(value, str) or not value.strip():
            self.add(f"{path}.{key}" if path else key, f"expected a non-empty string, found {_kind(value)}")
            return None
        return value.strip()

    def boolean(self, obj: Mapping[str, Any], key: str, path: str, default: bool) -> bool:
        value = obj.get(key, default)
        if not isinstance(value, bool):
            self.add(f"{path}.{key}", f"expected true or false, found {_kind(value)}")
            return default
        return value

    def integer(
        self, obj: Mapping[str, Any], key: str, path: str, default: int | None, minimum: int, why: str = ""
    ) -> int | None:
        if key not in obj or obj[key] is None:
            return default
        value = obj[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(f"{path}.{key}", f"expected a whole number >= {minimum}, found {_kind(value)}")
            return default
        if value < minimum:
            self.add(f"{path}.{key}", f"must be >= {minimum}{why}, found {value}")
            return default
        return value

    def strings(self, obj: Mapping[str, Any], key: str, path: str) -> tuple[str, ...] | None:
        if key not in obj or obj[key] is None:
            return None
        value = obj[key]
        if not isinstance(value, list):
            self.add(f"{path}.{key}", f"expected a list of strings, found {_kind(value)}")
            return None
        out: list[str] = []
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.add(f"{path}.{key}[{i}]", f"expected a non-empty string, found {_kind(item)}")
            else:
                out.append(item.strip())
        return tuple(out)

    def choice(self, obj: Mapping[str, Any], key: str, path: str, enum: type[E], default: E) -> E:
        if key not in obj or obj[key] is None:
            return default
        value = obj[key]
        allowed = [m.value for m in enum]  # type: ignore[attr-defined]
        if value not in allowed:
            self.add(f"{path}.{key}", f"expected one of {', '.join(allowed)}, found {_kind(value)}")
            return default
        return enum(value)

    def name(self, key: str, path: str, what: str) -> bool:
        if not NAME_RE.match(key):
            self.add(
                path,
                f"{what} key {key!r} must be letters, digits, '-', '_' or '.', at most 40 characters, "
                "starting and ending with a letter or digit (it becomes part of resource names)",
            )
            return False
        return True


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key (expected one of: {', '.join(known)}){hint}"


def _decode(value: object) -> object:
    """Structured config reaches the program as JSON text; tests may pass decoded values."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


# --- hosts -------------------------------------------------------------------------------------


def _parse_docker(r: _Reader, raw: object, path: str) -> DockerTarget | None:
    obj = r.mapping(raw, path, DOCKER_KEYS, "a map with 'host' (ssh://, tcp:// or unix:// URL)")
    if obj is None:
        return None
    url = r.string(obj, "host", path, required=True)
    ok = True
    if url is not None:
        parts = urlsplit(url)
        if parts.scheme not in DOCKER_SCHEMES:
            r.add(
                f"{path}.host",
                f"expected an ssh://user@host[:port], tcp://host:port or unix:///path URL, found {url!r}",
            )
            ok = False
        elif parts.scheme == "unix" and not parts.path.startswith("/"):
            r.add(
                f"{path}.host",
                f"a unix:// URL needs an absolute socket path (unix:///var/run/docker.sock), found {url!r}",
            )
            ok = False
        elif parts.scheme in ("ssh", "tcp") and not parts.hostname:
            r.add(f"{path}.host", f"expected a host name in {url!r}")
            ok = False
        elif parts.scheme == "tcp" and parts.port is None:
            r.add(f"{path}.host", f"a tcp:// URL needs a port (tcp://host:2376), found {url!r}")
            ok = False
        elif parts.scheme == "ssh" and parts.password:
            r.add(f"{path}.host", "a password in an ssh:// URL is refused by Docker; use an SSH key or agent")
            ok = False
    ssh_opts = r.strings(obj, "sshOpts", path) or ()
    cert_path = r.string(obj, "certPath", path)
    tls = None
    if "tls" in obj:
        tls_obj = r.mapping(obj["tls"], f"{path}.tls", TLS_KEYS, "a map of ca/cert/key secret config key names")
        if tls_obj is not None:
            names = [r.string(tls_obj, k, f"{path}.tls", required=True) for k in TLS_KEYS]
            if all(names):
                tls = DockerTls(*names)  # type: ignore[arg-type]
    if url is None or not ok:
        return None
    if urlsplit(url).scheme != "tcp" and (tls or cert_path):
        r.add(f"{path}.tls", "TLS material applies only to tcp:// Docker hosts")
    if tls and cert_path:
        r.add(f"{path}.certPath", "set either certPath or tls, not both")
    return DockerTarget(url=url, ssh_opts=ssh_opts, cert_path=cert_path, tls=tls)


def _parse_kubernetes(r: _Reader, raw: object, path: str) -> KubernetesTarget | None:
    obj = r.mapping(raw, path, KUBERNETES_KEYS, "a map with 'namespace' (and optional context, jobNamespace)")
    if obj is None:
        return None
    namespace = r.string(obj, "namespace", path, required=True)
    # Job pods need a laxer Pod Security level than the manager's `restricted`: apart by default.
    job_namespace = r.string(obj, "jobNamespace", path) or (f"{namespace}-jobs" if namespace else None)
    for key, value in (("namespace", namespace), ("jobNamespace", job_namespace)):
        if value is not None and not K8S_NAMESPACE_RE.match(value):
            r.add(f"{path}.{key}", f"expected a Kubernetes namespace name (RFC 1123 label), found {value!r}")
            return None
    node_selector = _string_map(r, obj.get("nodeSelector"), f"{path}.nodeSelector")
    tolerations = _string_map(r, obj.get("tolerations"), f"{path}.tolerations")
    for key, effect in tolerations:
        if effect not in TOLERATION_EFFECTS:
            r.add(f"{path}.tolerations.{key}", f"expected one of {', '.join(TOLERATION_EFFECTS)}, found {effect!r}")
    if namespace is None or job_namespace is None:
        return None
    return KubernetesTarget(
        namespace=namespace,
        job_namespace=job_namespace,
        context=r.string(obj, "context", path),
        kubeconfig=r.string(obj, "kubeconfig", path),
        node_selector=node_selector,
        tolerations=tolerations,
        apparmor_fallback=r.boolean(obj, "appArmorAnnotationFallback", path, False),
    )


def _string_map(r: _Reader, raw: object, path: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    obj = r.mapping(raw, path, None, "a map of strings")
    if obj is None:
        return ()
    out = []
    for key, value in sorted(obj.items()):
        if not isinstance(value, str):
            r.add(f"{path}.{key}", f"expected a string, found {_kind(value)}")
        else:
            out.append((str(key), value))
    return tuple(out)


def _parse_host(r: _Reader, key: str, raw: object) -> HostSpec | None:
    path = f"hosts.{key}"
    named = r.name(key, path, "host")
    obj = r.mapping(raw, path, HOST_KEYS, "a map with 'docker' or 'kubernetes'")
    if obj is None:
        return None
    has_docker, has_k8s = "docker" in obj, "kubernetes" in obj
    if has_docker == has_k8s:
        r.add(path, "expected exactly one of 'docker' or 'kubernetes' (where this host's manager runs)")
    docker = _parse_docker(r, obj["docker"], f"{path}.docker") if has_docker else None
    kubernetes = _parse_kubernetes(r, obj["kubernetes"], f"{path}.kubernetes") if has_k8s else None
    concurrent = r.integer(obj, "concurrent", path, 4, 1, " (0 makes gitlab-runner exit)")
    check_interval = r.integer(obj, "checkInterval", path, 3, 1)
    shutdown_timeout = r.integer(obj, "shutdownTimeout", path, 30, 1)
    log_format = r.choice(obj, "logFormat", path, LogFormat, LogFormat.JSON)
    log_level = r.choice(obj, "logLevel", path, LogLevel, LogLevel.INFO)
    image = r.string(obj, "runnerImage", path) or versions.RUNNER_IMAGE
    if not named or (docker is None and kubernetes is None) or (has_docker and has_k8s):
        return None
    return HostSpec(
        key=key,
        concurrent=concurrent or 4,
        docker=docker,
        kubernetes=kubernetes,
        check_interval=check_interval or 3,
        shutdown_timeout=shutdown_timeout or 30,
        log_format=log_format,
        log_level=log_level,
        runner_image=image,
    )


# --- runners -----------------------------------------------------------------------------------


def _parse_scope(r: _Reader, raw: object, path: str) -> Scope | None:
    expected = "exactly one of {instance: true}, {group: <path or id>}, {project: <path or id>}"
    if not isinstance(raw, dict) or len(raw) != 1:
        found = f"{len(raw)} keys ({', '.join(map(str, raw))})" if isinstance(raw, dict) else _kind(raw)
        r.add(path, f"expected {expected}, found {found}")
        return None
    ((kind, ref),) = raw.items()
    if kind not in ScopeKind.__members__.values():
        r.add(f"{path}.{kind}", f"unknown scope; expected {expected}")
        return None
    scope_kind = ScopeKind(kind)
    if scope_kind is ScopeKind.INSTANCE:
        if ref is not True:
            r.add(f"{path}.instance", f"expected true, found {_kind(ref)}")
            return None
        return Scope(scope_kind)
    if isinstance(ref, int) and not isinstance(ref, bool) and ref > 0:
        return Scope(scope_kind, ref)
    if isinstance(ref, str) and ref.strip().isdigit():
        return Scope(scope_kind, int(ref.strip()))
    if isinstance(ref, str) and re.fullmatch(r"[\w.-]+(/[\w.-]+)*", ref.strip().strip("/")):
        return Scope(scope_kind, ref.strip().strip("/"))
    r.add(f"{path}.{kind}", f"expected a numeric {kind} id or a full path like 'platform/images', found {_kind(ref)}")
    return None


def _parse_runner(r: _Reader, key: str, raw: object, hosts: Mapping[str, HostSpec | None]) -> RunnerSpec | None:
    path = f"runners.{key}"
    named = r.name(key, path, "runner")
    obj = r.mapping(raw, path, RUNNER_KEYS, "a map with at least 'host' and 'scope'")
    if obj is None:
        return None
    host = r.string(obj, "host", path, required=True)
    if host is not None and host not in hosts:
        known = ", ".join(sorted(hosts)) or "none defined"
        r.add(f"{path}.host", f"unknown host {host!r} (known: {known})")
    scope = _parse_scope(r, obj["scope"], f"{path}.scope") if "scope" in obj else None
    if "scope" not in obj:
        r.add(f"{path}.scope", "is required: one of {instance: true}, {group: <path or id>}, {project: <path or id>}")
    tags = tuple(sorted(set(r.strings(obj, "tags", path) or ())))
    buildkit = r.boolean(obj, "buildkit", path, False)
    run_untagged = r.boolean(obj, "runUntagged", path, not tags)
    if not tags and not run_untagged:
        r.add(f"{path}.tags", "a runner with no tags must set runUntagged: true (GitLab refuses it otherwise)")
    locked = r.boolean(obj, "locked", path, False)
    if locked and scope is not None and scope.kind is not ScopeKind.PROJECT:
        r.warn(
            f"{path}.locked", f"only project runners can be locked; GitLab ignores it on this {scope.kind.value} runner"
        )
    maximum_timeout = r.integer(
        obj, "maximumTimeout", path, None, versions.MIN_MAXIMUM_TIMEOUT, " seconds (GitLab's minimum)"
    )
    limit = r.integer(obj, "limit", path, 0, 0)
    default_image = versions.BUILDKIT_IMAGE if buildkit else versions.DEFAULT_JOB_IMAGE
    image = r.string(obj, "image", path) or default_image
    allowed = r.strings(obj, "allowedImages", path)
    if allowed is None:
        allowed = versions.BUILDKIT_ALLOWED_IMAGES if buildkit else ()
    elif buildkit and not allowed:
        r.add(
            f"{path}.allowedImages",
            "a BuildKit runner must restrict its images; an empty list would allow any image to run unconfined",
        )
    if allowed and not any(_glob_match(pattern, image) for pattern in allowed):
        r.add(f"{path}.image", f"{image!r} is not allowed by allowedImages ({', '.join(allowed)})")
    extra = obj.get("extraConfig", "")
    if not isinstance(extra, str):
        r.add(f"{path}.extraConfig", f"expected TOML text (a YAML block string), found {_kind(extra)}")
        extra = ""
    if not named or host is None or host not in hosts or scope is None:
        return None
    return RunnerSpec(
        key=key,
        host=host,
        scope=scope,
        tags=tags,
        image=image,
        allowed_images=tuple(allowed),
        buildkit=buildkit,
        protected_only=r.boolean(obj, "protectedOnly", path, False),
        run_untagged=run_untagged,
        locked=locked,
        paused=r.boolean(obj, "paused", path, False),
        maximum_timeout=maximum_timeout,
        limit=limit or 0,
        pull_policy=r.choice(obj, "pullPolicy", path, PullPolicy, PullPolicy.ALWAYS),
        extra_config=extra,
    )


def _glob_match(pattern: str, name: str) -> bool:
    """gitlab-runner matches allowed_images with doublestar globs; '*' does not cross '/'."""
    regex = "".join(
        ".*" if part == "**" else "[^/]*" if part == "*" else re.escape(part)
        for part in re.split(r"(\*\*|\*)", pattern)
    )
    return re.fullmatch(regex, name) is not None


# --- variables ---------------------------------------------------------------------------------


def _parse_variable(
    r: _Reader, i: int, raw: object, secret_keys: frozenset[str], all_keys: frozenset[str]
) -> VariableSpec | None:
    path = f"variables[{i}]"
    obj = r.mapping(raw, path, VARIABLE_KEYS, "a map with project or group, key, and value or secret")
    if obj is None:
        return None
    owners = [k for k in ("project", "group") if k in obj]
    if len(owners) != 1:
        r.add(path, "expected exactly one of 'project' or 'group'")
        return None
    owner_kind = ScopeKind(owners[0])
    owner_raw = obj[owners[0]]
    owner = str(owner_raw).strip() if isinstance(owner_raw, str | int) and not isinstance(owner_raw, bool) else ""
    if not owner:
        r.add(f"{path}.{owners[0]}", f"expected a numeric id or full path, found {_kind(owner_raw)}")
    key = r.string(obj, "key", path, required=True)
    if key is not None and not VARIABLE_KEY_RE.match(key):
        r.add(f"{path}.key", f"GitLab variable keys are letters, digits and '_' (at most 255), found {key!r}")
    has_value, has_secret = "value" in obj, "secret" in obj
    if has_value == has_secret:
        r.add(path, "expected exactly one of 'value' (plain text) or 'secret' (name of a secret config key)")
    value = obj.get("value") if has_value else None
    if has_value and not isinstance(value, str):
        r.add(f"{path}.value", f"expected a string (quote numbers), found {_kind(value)}")
        value = None
    secret = r.string(obj, "secret", path) if has_secret else None
    if secret is not None and secret not in all_keys:
        r.add(f"{path}.secret", f"config key {secret!r} is not set (pulumi config set --secret {secret} ...)")
    elif secret is not None and secret not in secret_keys:
        r.add(f"{path}.secret", f"config key {secret!r} is not a secret; set it with pulumi config set --secret")
    masked = r.boolean(obj, "masked", path, False)
    if masked and isinstance(value, str) and not MASKABLE_RE.match(value):
        r.add(
            f"{path}.value",
            "GitLab refuses to mask this value: it must be at least 8 characters of "
            "letters, digits and _+=/@:.~- (one line, no spaces)",
        )
    scope = r.string(obj, "environmentScope", path) or "*"
    if owner and key and (value is not None or secret is not None):
        return VariableSpec(
            owner_kind=owner_kind,
            owner=owner,
            key=key,
            value=value,
            secret=secret,
            masked=masked,
            protected=r.boolean(obj, "protected", path, False),
            raw=r.boolean(obj, "raw", path, False),
            environment_scope=scope,
            variable_type=r.choice(obj, "type", path, VariableType, VariableType.ENV_VAR),
        )
    return None


# --- the whole stack ---------------------------------------------------------------------------


def _parse_gitlab_url(r: _Reader, values: Mapping[str, Any]) -> str | None:
    url = r.string(values, "gitlabUrl", "", required=True)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        r.add("gitlabUrl", f"expected an http(s):// URL of the GitLab instance, found {url!r}")
        return None
    clean = url.rstrip("/")
    if clean.endswith("/ci"):
        r.add("gitlabUrl", "drop the legacy '/ci' suffix (gitlab-runner warns about it and it breaks submodule auth)")
    return clean


def _entries(r: _Reader, values: Mapping[str, Any], key: str, what: str) -> dict[str, Any]:
    if key not in values:
        r.add(key, f"is required: a map of {what}")
        return {}
    obj = r.mapping(_decode(values[key]), key, None, f"a map of {what}")
    if obj is not None and not obj:
        r.add(key, f"expected at least one entry ({what})")
    return obj or {}


def parse_spec(
    values: Mapping[str, Any],
    *,
    stack: str,
    secret_keys: Iterable[str] = (),
    source: str = "stack configuration",
    foreign_keys: Iterable[str] = (),
) -> FleetSpec:
    """Parse the project's config values (keys without the `runner-fleet:` prefix) into a FleetSpec.

    `foreign_keys` are fully qualified keys of other namespaces that look like ours (a wrong prefix).
    Raises SpecError with every problem found; never returns a partly valid spec.
    """
    r = _Reader()
    for key in sorted(foreign_keys):
        r.add(key, f"not in this project's namespace; write it as '{versions.PROJECT}:{key.split(':', 1)[1]}'")
    secrets = frozenset(secret_keys)
    all_keys = frozenset(values)
    for key in sorted(secrets & set(TOP_LEVEL_KEYS)):
        # The shape of the stack never depends on a secret value.
        r.add(key, "must not be a secret (or contain one); put secrets in their own keys and reference them")
        values = {k: v for k, v in values.items() if k != key}
    gitlab_url = _parse_gitlab_url(r, values)
    protect = _decode(values.get("protect", False))
    if not isinstance(protect, bool):
        r.add("protect", f"expected true or false, found {_kind(protect)}")
        protect = False

    raw_hosts = _entries(r, values, "hosts", "host-key -> host")
    hosts = {key: _parse_host(r, key, raw) for key, raw in sorted(raw_hosts.items())}
    raw_runners = _entries(r, values, "runners", "runner-key -> runner")
    runners = [_parse_runner(r, key, raw, hosts) for key, raw in sorted(raw_runners.items())]

    variables: list[VariableSpec | None] = []
    if "variables" in values:
        raw_vars = _decode(values["variables"])
        if not isinstance(raw_vars, list):
            r.add("variables", f"expected a list of variables, found {_kind(raw_vars)}")
        else:
            variables = [_parse_variable(r, i, v, secrets, all_keys) for i, v in enumerate(raw_vars)]
    valid_vars = [v for v in variables if v is not None]
    _check_variable_identities(r, variables)

    referenced = _referenced_secrets(r, hosts.values(), valid_vars, secrets, all_keys)
    for key in sorted(all_keys - set(TOP_LEVEL_KEYS) - referenced):
        r.add(
            key, _unknown_key(key, TOP_LEVEL_KEYS) + " (or a secret referenced by a variable, docker tls or kubeconfig)"
        )

    _check_namespaces(r, hosts.values())
    _warn_about(r, hosts, runners)

    spec = FleetSpec(
        stack=stack,
        gitlab_url=gitlab_url or "https://gitlab.invalid",
        hosts=tuple(h for h in hosts.values() if h is not None),
        runners=tuple(x for x in runners if x is not None),
        variables=tuple(sorted(valid_vars, key=lambda v: v.identity)),
        protect=protect,
        secret_keys=frozenset(referenced),
        warnings=tuple(r.warnings),
    )
    # Rendering checks (extraConfig merges, the runner's config schema) run on every valid part, so
    # they are reported together with the structural problems.
    problems = r.problems + runner_config.check_spec(spec)
    if problems:
        raise SpecError(source, problems)
    return spec


def _check_namespaces(r: _Reader, hosts: Iterable[HostSpec | None]) -> None:
    """A namespace is declared by exactly one host of a cluster (context)."""
    owners: dict[tuple[str | None, str], str] = {}
    for host in hosts:
        if host is None or host.kubernetes is None:
            continue
        target = host.kubernetes
        for key, ns in (("namespace", target.namespace), ("jobNamespace", target.job_namespace)):
            owner = owners.get((target.context, ns))
            if owner is not None and owner != host.key:
                r.add(
                    f"hosts.{host.key}.kubernetes.{key}",
                    f"namespace {ns!r} is already declared by host {owner!r} in the same context",
                )
            owners[(target.context, ns)] = host.key


def _warn_about(r: _Reader, hosts: Mapping[str, HostSpec | None], runners: Iterable[RunnerSpec | None]) -> None:
    """Legal but probably unintended: said on every run, never blocking."""
    placed = [x for x in runners if x is not None]
    for key, host in hosts.items():
        if host is None:
            continue
        count = sum(1 for x in placed if x.host == key)
        if count == 0:
            r.warn(f"hosts.{key}", "no runner is placed on this host; its manager will have nothing to run")
        elif host.concurrent < count:
            r.warn(
                f"hosts.{key}.concurrent",
                f"{host.concurrent} is lower than the {count} runners on this host; "
                "gitlab-runner then reports long-polling stalls",
            )
        if host.kubernetes and host.kubernetes.job_namespace == host.kubernetes.namespace:
            r.warn(
                f"hosts.{key}.kubernetes.jobNamespace",
                "jobs share the manager's namespace, which is then labelled "
                "for the jobs' Pod Security level instead of restricted",
            )
        if host.docker and host.docker.scheme == "tcp" and not (host.docker.tls or host.docker.cert_path):
            r.warn(
                f"hosts.{key}.docker",
                "tcp:// without tls or certPath relies on DOCKER_CERT_PATH on the machine "
                "running pulumi; an unencrypted Docker API is root on that host",
            )


def _check_variable_identities(r: _Reader, variables: list[VariableSpec | None]) -> None:
    seen: dict[tuple[str, str, str, str], int] = {}
    for i, var in enumerate(variables):
        if var is None:
            continue
        if var.identity in seen:
            r.add(
                f"variables[{i}]",
                f"duplicates variables[{seen[var.identity]}] ({var.owner_kind.value} {var.owner}, key {var.key}, "
                f"environmentScope {var.environment_scope})",
            )
        else:
            seen[var.identity] = i


def _referenced_secrets(
    r: _Reader,
    hosts: Iterable[HostSpec | None],
    variables: Iterable[VariableSpec],
    secrets: frozenset[str],
    all_keys: frozenset[str],
) -> set[str]:
    referenced = {v.secret for v in variables if v.secret}
    for host in hosts:
        if host is None:
            continue
        refs: list[tuple[str, str]] = []
        if host.docker and host.docker.tls:
            tls = host.docker.tls
            refs += [(f"hosts.{host.key}.docker.tls.{k}", getattr(tls, k)) for k in TLS_KEYS]
        if host.kubernetes and host.kubernetes.kubeconfig:
            refs.append((f"hosts.{host.key}.kubernetes.kubeconfig", host.kubernetes.kubeconfig))
        for path, key in refs:
            referenced.add(key)
            if key not in all_keys:
                r.add(path, f"config key {key!r} is not set (pulumi config set --secret {key} ...)")
            elif key not in secrets:
                r.add(path, f"config key {key!r} is not a secret; set it with pulumi config set --secret")
    return referenced


# --- reading the Pulumi configuration (the only place config is read) ---------------------------


@dataclass(frozen=True)
class GitlabConnection:
    """Arguments for the explicit gitlab.Provider, from the standard `gitlab:` stack keys.

    An explicit provider does not read `gitlab:*` config by itself, so the program passes it on.
    """

    base_url: str
    token: pulumi.Output[str] | None
    insecure: bool | None = None
    cacert_file: str | None = None
    retries: int | None = None
    early_auth_check: bool | None = None


@dataclass(frozen=True)
class FleetConfig:
    spec: FleetSpec
    gitlab: GitlabConnection
    secrets: Mapping[str, pulumi.Output[str]]  # referenced secret config values, still secret


# Set by the offline plan so that problems name the stack file it actually read.
STACK_FILE_ENV = "RUNNER_FLEET_STACK_FILE"


def _config_keys() -> set[str]:
    """Every fully qualified config key: the engine passes config both ways, so look at both."""
    return set(runtime_config.CONFIG.get()) | set(runtime_config.get_config_env())


def load(source: str | None = None) -> FleetConfig:
    """Read and validate the whole stack configuration; raise SpecError before anything is declared."""
    project, stack = pulumi.get_project(), pulumi.get_stack()
    source = source or os.environ.get(STACK_FILE_ENV) or f"stacks/Pulumi.{stack}.yaml"
    cfg = pulumi.Config()
    prefix = f"{project}:"
    everything = _config_keys()
    keys = sorted(k.removeprefix(prefix) for k in everything if k.startswith(prefix))
    foreign = [k for k in everything if ":" in k and not k.startswith(prefix) and k.split(":", 1)[1] in TOP_LEVEL_KEYS]
    env_secrets = set(runtime_config.get_config_secret_keys_env())
    secret_keys = {k for k in keys if runtime_config.is_config_secret(prefix + k) or prefix + k in env_secrets}
    # Secret values are never read as plain text here: only their presence is checked.
    values = {k: cfg.get(k) for k in keys if k not in secret_keys}
    values.update({k: "[secret]" for k in secret_keys})
    spec = parse_spec(values, stack=stack, secret_keys=secret_keys, source=source, foreign_keys=foreign)
    for warning in spec.warnings:
        pulumi.log.warn(warning)
    secrets = {k: cfg.require_secret(k) for k in sorted(spec.secret_keys)}
    return FleetConfig(spec=spec, gitlab=_gitlab_connection(spec), secrets=secrets)


def _gitlab_connection(spec: FleetSpec) -> GitlabConnection:
    gl = pulumi.Config("gitlab")
    base_url = gl.get("baseUrl") or f"{spec.gitlab_url}/api/v4/"
    if not base_url.endswith("/"):
        base_url += "/"  # the provider requires the trailing slash
    return GitlabConnection(
        base_url=base_url,
        token=gl.get_secret("token"),
        insecure=gl.get_bool("insecure"),
        cacert_file=gl.get("cacertFile"),
        retries=gl.get_int("retries"),
        early_auth_check=gl.get_bool("earlyAuthCheck"),
    )
