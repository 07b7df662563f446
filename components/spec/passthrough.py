"""The keys `extraConfig` may set: a positive model, per section and executor. Everything else is refused.

runner-fleet relaxes isolation on purpose, for BuildKit build containers only; a passthrough that could widen
what a job reaches would undo that. So `extraConfig` is not checked against a list of known-bad keys (one is
always missing): each key it may set is listed here, with why it is safe, and any other key is refused with
its path. What is listed changes how a job runs inside its own container or pod (resources, timeouts, scripts,
cache, DNS), never what it can reach outside it: no host path, socket, namespace, device, capability,
security profile, user, service account, image policy or pod spec. Keys runner-fleet sets from a runner's own
keys (identity, images, every security setting) are owned and refused too. The README's "extraConfig" section
lists the same keys (a test keeps the two equal).

Keys are matched exactly: gitlab-runner reads config.toml keys case-insensitively, so `Privileged` would mean
`privileged`; an exact allow-list refuses every spelling it does not list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from components.domain.host_paths import SOCKET_NAME, mount_path_problem
from components.spec import job_environment
from components.spec.problems import CREDENTIAL_MESSAGE, credential_shape, looks_like_credential

Check = Callable[[Any], str | None]
"""Checks one allowed value; returns what is wrong with it, or None."""


@dataclass(frozen=True)
class Allowed:
    """A key extraConfig may set, and why that is safe."""

    why: str
    """One line for the README: why this key cannot widen what a job reaches."""
    check: Check | None = None
    """A check of the value beyond the runner's schema, if the key is safe only for some values."""


ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
OWN_ENV = ("BUILDKITD_",)  # runner-fleet's own (BuildKit's flags)
CONTAINER_PATH = re.compile(r"^/[A-Za-z0-9._/-]*\Z")


def _environment(value: Any) -> str | None:
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        return "expected a list of NAME=value strings"
    for entry in value:
        name, equals, setting = str(entry).partition("=")
        if not equals or not ENV_NAME.match(name):
            return "entries are NAME=value with a NAME of letters, digits and '_'"
        if (problem := _environment_name(name, setting) or job_environment.value_problem(name, setting)) is not None:
            return problem
    return None


def _environment_name(name: str, value: str) -> str | None:
    """Why a job environment name (judged with its value) is not extraConfig's to set, or None."""
    if name.startswith(OWN_ENV):
        return f"{name} is set by runner-fleet (buildkit: true)"
    if name.startswith("FF_"):
        return f"{name}: gitlab-runner feature flags change how jobs are run and are not passed through"
    if name.upper() in FIRST_CLASS_ENV:
        return f"{name} has a key of its own: {FIRST_CLASS_ENV[name.upper()]}"
    if name.upper() in SECRET_NAMES:
        return (
            f"{name} holds a credential, which config.toml would carry in plain text; make it a CI/CD variable "
            "with `secret:` (variables)"
        )
    return job_environment.name_problem(name, value)


FIRST_CLASS_ENV = {
    **dict.fromkeys(
        ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "FTP_PROXY"), "hosts.<h>.proxy (no credentials)"
    ),
    "DOCKER_AUTH_CONFIG": "runners.<r>.registryAuth: {secret: <configKey>}",
    **dict.fromkeys(
        (
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "GIT_SSL_CAINFO",
            "GIT_SSL_CAPATH",
            "CI_SERVER_TLS_CA_FILE",
            "REQUESTS_CA_BUNDLE",
            "CURL_CA_BUNDLE",
            "NODE_EXTRA_CA_CERTS",
        ),
        "gitlabCaBundle",
    ),
    # Switches that turn TLS verification off: the CA is first class, so nothing needs them.
    **dict.fromkeys(
        ("GIT_SSL_NO_VERIFY", "NODE_TLS_REJECT_UNAUTHORIZED", "PYTHONHTTPSVERIFY", "CURL_INSECURE"),
        "gitlabCaBundle (TLS verification stays on)",
    ),
}
"""Job environment names that runner-fleet sets from first-class keys (upper-cased), and the key to use."""
FIRST_CLASS_KEYS = {
    "tls-ca-file": "gitlabCaBundle (PEM, delivered with the config)",
    "helper_image": "registryMirror (the helper at the manager's release)",
}
"""config.toml keys that runner-fleet sets from first-class stack keys, and the key to use."""
SECRET_NAMES = frozenset({"DOCKER_AUTH_CONFIG", "NETRC"})
"""Names that hold a credential though no secret word says so (secret names: credential_shapes.holds_secret)."""


def _container_volumes(value: Any) -> str | None:
    """Only volumes inside the job container (anonymous volumes), never a host path or another volume; a host
    directory is `hostDirectories`' job."""
    if not isinstance(value, list):
        return "expected a list of container paths such as /cache"
    for entry in value:
        if not isinstance(entry, str) or ":" in entry or not CONTAINER_PATH.match(entry) or ".." in entry.split("/"):
            return (
                "only container paths (anonymous volumes) such as /cache: a host path, a volume or options are "
                "refused (a host directory is runners.<r>.hostDirectories)"
            )
        if any(SOCKET_NAME.fullmatch(part) for part in entry.split("/")):
            return f"{entry}: no socket paths, not even inside the container"
        if (problem := mount_path_problem(entry)) is not None:
            return problem
    return None


def _strings(value: Any) -> list[str]:
    """Every string inside `value`, table keys included (lists and tables walked)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*map(str, value), *(s for item in value.values() for s in _strings(item))]
    return [s for item in value for s in _strings(item)] if isinstance(value, list) else []


TMPFS_OPTIONS = re.compile(r"[a-z0-9=,]*")


def _tmpfs(value: Any) -> str | None:
    """Container paths to mount options (`rw,noexec,size=64m`): nothing else."""
    if not isinstance(value, dict):
        return "expected a table of container path -> mount options"
    for path, options in value.items():
        if not CONTAINER_PATH.match(path) or ".." in path.split("/") or path == "/":
            return f"{path!r}: expected an absolute container path"
        if (problem := mount_path_problem(path)) is not None:
            return problem
        if not isinstance(options, str) or not TMPFS_OPTIONS.fullmatch(options):
            return f"{path!r}: expected mount options like 'rw,noexec,size=64m'"
    return None


def _priority(value: Any) -> str | None:
    if isinstance(value, str) and value.startswith("system-"):
        return f"{value}: system priority classes are the cluster's own (jobs would preempt its components)"
    return None


def _empty_dirs(value: Any) -> str | None:
    for entry in value if isinstance(value, list) else []:
        if not isinstance(entry, dict) or not set(entry) <= {"name", "mount_path", "medium", "size_limit"}:
            return "entries are {name, mount_path, medium?, size_limit?}"
        if not isinstance(entry.get("mount_path"), str) or (problem := mount_path_problem(entry["mount_path"])):
            return f"mount_path: {problem if isinstance(entry.get('mount_path'), str) else 'expected a path'}"
    return None


def _script(value: Any) -> str | None:
    """A script lands in config.toml as it is: no credential in any shape (a password on a command line,
    `user:pw@host` without a scheme, a random-looking key), which the runner would also print to every job."""
    if isinstance(value, str) and credential_shape(value):
        return (
            "looks like a credential (a token, a key, a password on a command line or in a URL); it is not "
            "repeated here: pass it as a CI/CD variable with `secret:` (variables) and use $NAME in the script"
        )
    return None


RESOURCES = "a resource request or limit of the job's own pod"
RUNNER: Mapping[str, Allowed | Mapping[str, Any]] = {
    "environment": Allowed("variables of the job's environment (not runner-fleet's own, no FF_* flags)", _environment),
    "output_limit": Allowed("the job log's size"),
    "shell": Allowed("the shell the job's script runs in, inside its container"),
    "pre_get_sources_script": Allowed("a script run inside the job's container", _script),
    "post_get_sources_script": Allowed("a script run inside the job's container", _script),
    "pre_build_script": Allowed("a script run inside the job's container", _script),
    "post_build_script": Allowed("a script run inside the job's container", _script),
    "debug_trace_disabled": Allowed("whether jobs may print a debug trace"),
}
DOCKER: Mapping[str, Allowed | Mapping[str, Any]] = {
    "memory": Allowed("a limit of the job's container"),
    "memory_swap": Allowed("a limit of the job's container"),
    "memory_reservation": Allowed("a reservation of the job's container"),
    "cpus": Allowed("a limit of the job's container"),
    "cpu_shares": Allowed("a weight of the job's container"),
    "shm_size": Allowed("the size of the job container's /dev/shm"),
    "dns": Allowed("the job container's resolvers"),
    "dns_search": Allowed("the job container's search domains"),
    "extra_hosts": Allowed("host names in the job container's /etc/hosts"),
    "wait_for_services_timeout": Allowed("how long a job waits for its services"),
    "disable_cache": Allowed("whether the job gets the runner's local cache volume"),
    "volumes": Allowed("anonymous volumes inside the job's container (no host path)", _container_volumes),
    "tmpfs": Allowed("tmpfs mounts inside the job's container", _tmpfs),
    "services_tmpfs": Allowed("tmpfs mounts inside service containers", _tmpfs),
}
KUBERNETES: Mapping[str, Allowed | Mapping[str, Any]] = {
    **{
        f"{who}{what}_{kind}": Allowed(RESOURCES)
        for who in ("", "helper_", "service_")
        for what in ("cpu", "memory", "ephemeral_storage")
        for kind in ("request", "limit")
    },
    "poll_interval": Allowed("how often the manager polls the job's pod"),
    "poll_timeout": Allowed("how long the manager waits for the job's pod to start"),
    "cleanup_grace_period_seconds": Allowed("how long the job's pod gets to stop"),
    "pod_termination_grace_period_seconds": Allowed("how long the job's pod gets to stop"),
    "priority_class_name": Allowed("the job pod's scheduling priority (not a system- class)", _priority),
    "volumes": {"empty_dir": Allowed("scratch volumes inside the job's pod", _empty_dirs)},
}
BY_EXECUTOR: Mapping[str, Mapping[str, Allowed | Mapping[str, Any]]] = {"docker": DOCKER, "kubernetes": KUBERNETES}

# Why some keys people reach for are refused; only for a better message, the refusal itself needs no list.
REFUSED_BECAUSE = {
    "privileged": "relaxes isolation (privileges)",
    "security_opt": "relaxes isolation (security profiles)",
    "cap_add": "relaxes isolation (capabilities)",
    "devices": "relaxes isolation (host devices)",
    "network_mode": "relaxes isolation (another network namespace)",
    "volumes_from": "reaches another container's volumes",
    "pod_annotations": "relaxes isolation (annotations can unconfine AppArmor)",
    "pod_spec": "relaxes isolation (any pod field)",
    "service_account": "reaches another identity",
    "user": "changes the job's user",
    "helper_image": "runs another image beside the job",
    "cache": "the distributed cache is runners.<r>.cache (or the fleet's cache), credentials as {secret: <configKey>}",
}


def _refused(key: str, allowed: Mapping[str, Any]) -> str:
    because = REFUSED_BECAUSE.get(key.lower())
    listed = ", ".join(allowed)
    head = f"not allowed: {because}" if because else "not a key extraConfig may set"
    return f"{head}; allowed here: {listed}"


def problems(extra: Mapping[str, Any], executor: str | None, owned: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(config.toml path, why) for every key of `extra` the allow-list does not admit, or admits with a bad value.

    `owned` is the runner's entry as runner-fleet sets it; `executor` its host's (None when the host is invalid).
    """
    tree: dict[str, Any] = dict(RUNNER)
    for name, section in BY_EXECUTOR.items():
        if name == executor or executor is None:
            tree[name] = section
    found: list[tuple[str, str]] = []
    for name in BY_EXECUTOR:
        if executor is not None and name != executor and name in extra:
            found.append((name, f"a [{name}] section on a {executor} runner is never read by gitlab-runner"))
    return found + _walk(extra, tree, owned, "", skip=set(BY_EXECUTOR) - set(tree))


def _walk(
    extra: Mapping[str, Any], tree: Mapping[str, Any], owned: Mapping[str, Any], prefix: str, skip: set[str]
) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for key, value in extra.items():
        path, rule = f"{prefix}{key}", tree.get(key)
        if key in skip:
            continue
        if isinstance(rule, Allowed):
            problem = rule.check(value) if rule.check is not None else None
            if problem is None and any(looks_like_credential(s) for s in _strings(value)):
                problem = CREDENTIAL_MESSAGE
            if problem is not None:
                found.append((path, problem))
        elif isinstance(rule, Mapping) and isinstance(value, dict):
            mine = owned.get(key)
            found += _walk(value, rule, mine if isinstance(mine, dict) else {}, f"{path}.", set())
        elif key.lower() in FIRST_CLASS_KEYS:
            found.append(
                (path, f"not a key extraConfig may set; it has a key of its own: {FIRST_CLASS_KEYS[key.lower()]}")
            )
        elif key in owned:
            because = REFUSED_BECAUSE.get(key.lower())
            head = f"not allowed: {because}; " if because else ""
            found.append((path, f"{head}set by runner-fleet from the runner's own keys; change it there"))
        else:
            found.append((path, _refused(key, tree)))
    return found


def readme_rows() -> list[tuple[str, str]]:
    """(key path, why it is safe) for every allowed key, as the README lists them."""
    rows: list[tuple[str, str]] = []

    def walk(tree: Mapping[str, Any], prefix: str) -> None:
        for key, rule in tree.items():
            if isinstance(rule, Allowed):
                if rule.why != "refused":
                    rows.append((f"{prefix}{key}", rule.why))
            else:
                walk(rule, f"{prefix}{key}.")

    walk(RUNNER, "")
    for name, section in BY_EXECUTOR.items():
        walk(section, f"{name}.")
    return rows
