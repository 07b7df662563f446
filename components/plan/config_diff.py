"""The config.toml each manager will load, as a reviewer reads it: a unified diff of `hosts/<host>/config.toml` in
the compare base against the new plan, with every value masked unless its key is known to hold no secret.

Positive model, down to every leaf: a scalar (or each scalar of a list) is shown only when its key is in SHOWN_KEYS;
a table is never shown whole, whatever its key: it is walked, and each of its leaves judged the same way. Tables
whose keys are data, not settings (labels, annotations, tolerations, CSI volume attributes, the `items` of a
ConfigMap or Secret volume), show their keys and, as a value, only what MAP_VALUES admits for that table; a job
environment entry shows its value only when its name is in SHOWN_ENVIRONMENT. Everything else, including any key an
`extraConfig` passthrough adds, is shown as REDACTED with its key, so the changed line is still seen (and listed by
`hidden_changes`). URL credentials are cut out of shown values. The plan output already masks tokens and secret
config values; this is the second line, and it also holds for a compare base written by anyone.
https://docs.gitlab.com/runner/configuration/advanced-configuration/
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import tomli_w

from components.domain.model import REDACTED
from components.spec.safe_text import redact_userinfo

MAX_CONFIG_BYTES = 8 << 20
"""A compare base's config.toml larger than this is not read (one for 1,000 runners is about 1 MiB)."""
MAX_DIFF_LINES = 400
"""A host's diff beyond this many lines is cut; the files themselves are in the plan outputs."""
SAFE_HOST = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
"""A host key that is safe as a directory name (the spec allows no other)."""

SHOWN_KEYS = frozenset(
    {
        # global
        "concurrent", "check_interval", "shutdown_timeout", "log_level", "log_format", "listen_address",
        "connection_max_age",
        # [[runners]]
        "name", "url", "executor", "limit", "output_limit", "request_concurrency", "tls-ca-file", "builds_dir",
        "cache_dir", "shell", "unhealthy_requests_limit", "unhealthy_interval",
        # [runners.docker] / [runners.kubernetes]
        "image", "helper_image", "pull_policy", "allowed_pull_policies", "allowed_images", "allowed_services",
        "privileged", "services_privileged", "security_opt", "disable_entrypoint_overwrite", "allowed_users",
        "volumes", "memory", "memory_swap", "memory_reservation", "cpus", "cpu_shares", "shm_size", "network_mode",
        "tls_verify", "disable_cache", "cap_add", "cap_drop", "oom_kill_disable", "wait_for_services_timeout",
        "runtime", "user", "isolation", "dns", "dns_search", "extra_hosts", "namespace", "poll_timeout",
        "cpu_request", "cpu_limit", "memory_request", "memory_limit", "ephemeral_storage_request",
        "ephemeral_storage_limit", "helper_cpu_request", "helper_memory_request", "service_cpu_request",
        "service_memory_request", "service_account", "allow_privilege_escalation", "drop", "add", "run_as_user",
        "run_as_group", "run_as_non_root", "type", "mount_path", "read_only", "sub_path", "medium",
        # [runners.kubernetes.volumes.*] entries (their volume_attributes and items are tables of data: MAP_VALUES)
        "host_path", "mount_propagation", "size_limit", "driver", "fs_type",
        # [runners.cache] and its backends (credentials are not here: AccessKey, SecretKey, PrivateKey, AccountKey)
        "Type", "Shared", "Path", "MaxUploadedArchiveSize", "BucketName", "ServerAddress", "BucketLocation",
        "AuthenticationType", "Insecure", "ServerSideEncryption", "CredentialsFile", "AccessID", "ContainerName",
        "AccountName", "StorageDomain",
        # [runners.autoscaler] (docker-autoscaler): plugin, sizes, idle policies, where the instances are
        "plugin", "capacity_per_instance", "max_use_count", "max_instances", "periods", "timezone", "idle_count",
        "idle_time", "scale_factor", "scale_factor_limit", "region", "project", "zone", "subscription_id",
        "resource_group_name", "username", "use_external_addr", "os", "arch", "protocol", "key_path",
    }
)  # fmt: skip
"""Keys whose values hold no secret: what runner-fleet renders, and the common upstream settings."""
SHOWN_ENVIRONMENT = frozenset(
    {"BUILDKITD_FLAGS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy"}
)
"""Job environment variables whose values hold no secret (others, such as DOCKER_AUTH_CONFIG, are masked)."""

WELL_KNOWN_LABELS = frozenset(
    {
        "kubernetes.io/arch", "kubernetes.io/os", "kubernetes.io/hostname", "node.kubernetes.io/instance-type",
        "topology.kubernetes.io/region", "topology.kubernetes.io/zone",
    }
)  # fmt: skip
"""Kubernetes' well-known node labels (https://kubernetes.io/docs/reference/labels-annotations-taints/): their
values name architectures, systems, machine types and places. Any other label's value is the stack's own data and
is masked (its key and the fact that it changed still show)."""
_LABEL_VALUE = re.compile(r"(?:[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
_PROFILE_ANNOTATION = re.compile(
    r"container\.(?:apparmor\.security\.beta|seccomp\.security\.alpha)\.kubernetes\.io/[a-z0-9]([-a-z0-9]*[a-z0-9])?"
)
_PROFILE = re.compile(r"unconfined|runtime/default|docker/default|localhost/[A-Za-z0-9._/-]{1,253}")
TAINT_EFFECTS = frozenset({"NoSchedule", "PreferNoSchedule", "NoExecute", ""})
"""What a node_tolerations value may be: a taint effect (Kubernetes core/v1 TaintEffect; empty: every effect)."""


def _label(key: str, value: str) -> bool:
    return key in WELL_KNOWN_LABELS and _LABEL_VALUE.fullmatch(value) is not None


def _annotation(key: str, value: str) -> bool:
    # Only the per-container AppArmor and seccomp profile annotations (runner-fleet renders the build container's).
    return _PROFILE_ANNOTATION.fullmatch(key) is not None and _PROFILE.fullmatch(value) is not None


def _never(key: str, value: str) -> bool:
    return False


MAP_VALUES = {
    "node_selector": _label,
    "pod_labels": _label,
    "pod_annotations": _annotation,
    "node_tolerations": lambda key, value: value in TAINT_EFFECTS,
    "volume_attributes": _never,  # CSI driver parameters: secret-store paths, passwords
    "items": _never,  # a ConfigMap or Secret volume's key -> path
}
"""Tables whose keys are data: per table, which (key, value) pairs show their value. Keys always show."""
# `user:password@host` without a scheme (URLs go through safe_text.redact_userinfo): everything up to the last '@'
# before any '/'. Not a digest (`alpine:3.22@sha256:...`): that '@' is part of an image reference.
_BARE_USERINFO = re.compile(r"^[^/\s]*@(?!sha256:)")


def _shown(value: str) -> str:
    return redact_userinfo(value) if "://" in value else _BARE_USERINFO.sub(f"{REDACTED}@", value)


def _environment(entries: Any) -> Any:
    if not isinstance(entries, list):
        return REDACTED
    out = []
    for entry in entries:
        name, sep, value = str(entry).partition("=")
        out.append(f"{name}={_shown(value)}" if sep and name in SHOWN_ENVIRONMENT else f"{name}={REDACTED}")
    return out


def _data_table(table: str, document: Mapping[str, Any]) -> dict[str, Any]:
    """A table whose keys are data: each value shown only when MAP_VALUES admits it (strings only)."""
    admits = MAP_VALUES[table]
    return {k: _shown(v) if isinstance(v, str) and admits(k, v) else REDACTED for k, v in document.items()}


def _value(key: str, value: Any) -> Any:
    """`value` under `key`, masked: tables walked, list items judged under the list's key, scalars by the key."""
    if isinstance(value, dict):
        return _data_table(key, value) if key in MAP_VALUES else masked(value)
    if isinstance(value, list):
        return [_value(key, item) for item in value]
    if key in SHOWN_KEYS:
        return _shown(value) if isinstance(value, str) else value
    return REDACTED


def masked(document: Mapping[str, Any]) -> dict[str, Any]:
    """The document with every leaf value whose key is not known to be non-secret replaced by REDACTED."""
    return {key: _environment(value) if key == "environment" else _value(key, value) for key, value in document.items()}


def _text(text: str | None) -> tuple[list[str], dict[str, Any]] | None:
    """A config.toml as masked lines and its parsed document; None when there is none or it is not TOML."""
    if text is None:
        return [], {}
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None
    return tomli_w.dumps(masked(document)).splitlines(), document


def _leaves(value: Any, path: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        for i, item in enumerate(value):
            yield from _leaves(item, f"{path}[{item.get('name', i)}]")
    else:
        yield path, value


def hidden_changes(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """Key paths whose values changed but are masked in both (names only, never values)."""
    old, now = dict(_leaves(base)), dict(_leaves(new))
    hide_old, hide_now = dict(_leaves(masked(base))), dict(_leaves(masked(new)))
    return sorted(
        path
        for path in set(old) | set(now)
        if old.get(path) != now.get(path)
        and hide_old.get(path, REDACTED) == REDACTED
        and hide_now.get(path, REDACTED) == REDACTED
    )


def host_diff(host: str, base_text: str | None, new_text: str | None) -> dict[str, Any]:
    """{diff: unified diff lines (masked), hidden: masked key paths that changed, unreadable: bool}."""
    before, after = _text(base_text), _text(new_text)
    if before is None or after is None:
        return {"diff": [], "hidden": [], "unreadable": True}
    lines = list(
        difflib.unified_diff(
            before[0], after[0], f"base/hosts/{host}/config.toml", f"new/hosts/{host}/config.toml", lineterm=""
        )
    )
    if len(lines) > MAX_DIFF_LINES:
        cut = len(lines) - MAX_DIFF_LINES
        lines = [*lines[:MAX_DIFF_LINES], f"# ... {cut} more lines: hosts/{host}/config.toml in both plan outputs"]
    return {"diff": lines, "hidden": hidden_changes(before[1], after[1]), "unreadable": False}


def read_configs(directory: Path, hosts: Iterable[str]) -> dict[str, str]:
    """hosts/<host>/config.toml of a plan output, for the hosts whose key is a safe directory name; a file that is
    missing, a link, too large or not UTF-8 is left out (the diff then shows the whole new file)."""
    found = {}
    for host in hosts:
        if not isinstance(host, str) or not SAFE_HOST.fullmatch(host):
            continue
        path = directory / "hosts" / host / "config.toml"
        try:
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_CONFIG_BYTES:
                continue
            found[host] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
    return found


def diffs(base: Mapping[str, str], new: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Per host whose config.toml differs (or appears, or goes): its masked diff."""
    out = {}
    for host in sorted(set(base) | set(new)):
        if base.get(host) != new.get(host):
            out[host] = host_diff(host, base.get(host), new.get(host))
    return out
