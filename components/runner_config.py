"""Render one manager's gitlab-runner `config.toml` from the spec. Pure: no Pulumi, no I/O but the schema.

Tokens come in as plain strings at the edge (`Output.all(...).apply(render)` in the host components), so
the rendered text stays a Pulumi secret. Every rendered file validates against the runner's own config
schema in `schemas/` (gitlab-runner v19.3.0). Key reference:
https://docs.gitlab.com/runner/configuration/advanced-configuration/

Each `[[runners]]` entry is built from three layers:
- *defaults* (volumes, resources, timeouts): `extraConfig` may override them;
- *extraConfig*: the user's TOML passthrough for everything runner-fleet does not model;
- *owned* keys (identity, executor, images, every security setting): `extraConfig` may not touch them, and
  may never add a relaxation (privileged, security_opt, capabilities, security contexts, pod_spec).
"""

from __future__ import annotations

import copy
import functools
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema
import tomli_w

from components import versions
from components.model import Executor, FleetSpec, HostSpec, RunnerSpec

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "gitlab-runner-v19.3.0-config.schema.json"
TOKEN_PLACEHOLDER = "[secret]"

BUILDKIT_ENV = f"BUILDKITD_FLAGS={versions.BUILDKITD_FLAGS}"
SECURITY_OPT_UNCONFINED = ("seccomp=unconfined", "apparmor=unconfined")  # the `=` form; `:` is deprecated
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/build"

# Keys that would relax isolation; only `buildkit: true` grants (exactly) the relaxation BuildKit needs.
RELAXATIONS: Mapping[str, frozenset[str]] = {
    "docker": frozenset(
        {
            "privileged",
            "services_privileged",
            "security_opt",
            "services_security_opt",
            "cap_add",
            "allowed_privileged_images",
            "allowed_privileged_services",
            "devices",
            "services_devices",
            "device_cgroup_rules",
            "userns_mode",
            "pid_mode",
            "ipcmode",
            "sysctls",
        }
    ),
    "kubernetes": frozenset(
        {
            "privileged",
            "allow_privilege_escalation",
            "cap_add",
            "pod_security_context",
            "build_container_security_context",
            "helper_container_security_context",
            "service_container_security_context",
            "init_permissions_container_security_context",
            "pod_spec",
            "namespace",
            "namespace_overwrite_allowed",
            "namespace_per_job",
            "service_account_overwrite_allowed",
            "bearer_token",
            "bearer_token_overwrite_allowed",
        }
    ),
}


# --- building blocks ---------------------------------------------------------------------------


def _image_policy(runner: RunnerSpec) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "image": runner.image,
        "pull_policy": [runner.pull_policy.value],
        "allowed_pull_policies": [runner.pull_policy.value],
    }
    if runner.allowed_images:
        policy["allowed_images"] = list(runner.allowed_images)
    return policy


def _docker_owned(runner: RunnerSpec) -> dict[str, Any]:
    docker: dict[str, Any] = {**_image_policy(runner), "privileged": False, "services_privileged": False}
    if runner.buildkit:
        docker.update(
            {
                # rootlesskit needs unshare/mount: seccomp and AppArmor unconfined, for this runner's job
                # containers only. `systempaths=unconfined` cannot pass through the runner (runner issue
                # 36810), hence BUILDKITD_FLAGS below.
                "security_opt": list(SECURITY_OPT_UNCONFINED),
                # The job must override the image's `rootlesskit buildkitd` entrypoint (`entrypoint: [""]`).
                "disable_entrypoint_overwrite": False,
                # The unconfined container runs as the image's non-root user, never as a user the job picks.
                "allowed_users": [str(versions.BUILDKIT_UID), "user"],
            }
        )
    return docker


def _docker_defaults() -> dict[str, Any]:
    return {"volumes": ["/cache"]}


def _unconfined_build_context(host: HostSpec) -> dict[str, Any]:
    assert host.kubernetes is not None
    context: dict[str, Any] = {
        "run_as_user": versions.BUILDKIT_UID,
        "run_as_group": versions.BUILDKIT_UID,
        "run_as_non_root": True,
        "seccomp_profile": {"type": "Unconfined"},
        # No allow_privilege_escalation=false here: it sets no_new_privs, which breaks the setuid
        # newuidmap that rootlesskit needs (moby/buildkit#1671).
    }
    if not host.kubernetes.apparmor_fallback:
        context["app_armor_profile"] = {"type": "Unconfined"}  # Kubernetes >= 1.30, runner >= 18.11
    return context


def _confined_context() -> dict[str, Any]:
    return {
        "allow_privilege_escalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def _kubernetes_owned(host: HostSpec, runner: RunnerSpec) -> dict[str, Any]:
    assert host.kubernetes is not None
    k8s: dict[str, Any] = {
        "namespace": host.kubernetes.job_namespace,
        **_image_policy(runner),
        "privileged": False,
        "pod_security_context": {"seccomp_profile": {"type": "RuntimeDefault"}},
        "helper_container_security_context": _confined_context(),
        "service_container_security_context": _confined_context(),
        # Runs as root to prepare shared volumes; confined, but keeps its capabilities for chmod.
        "init_permissions_container_security_context": {
            "allow_privilege_escalation": False,
            "seccomp_profile": {"type": "RuntimeDefault"},
        },
    }
    if runner.buildkit:
        k8s["build_container_security_context"] = _unconfined_build_context(host)
        if host.kubernetes.apparmor_fallback:
            # Clusters older than 1.30 have no appArmorProfile field; the deprecated annotation targets
            # the container named "build" only.
            k8s["pod_annotations"] = {APPARMOR_ANNOTATION: "unconfined"}
    else:
        k8s["build_container_security_context"] = {"seccomp_profile": {"type": "RuntimeDefault"}}
    if host.kubernetes.node_selector:
        k8s["node_selector"] = dict(host.kubernetes.node_selector)
    if host.kubernetes.tolerations:
        k8s["node_tolerations"] = dict(host.kubernetes.tolerations)
    return k8s


def _kubernetes_defaults(runner: RunnerSpec) -> dict[str, Any]:
    defaults: dict[str, Any] = {"poll_timeout": 180, "cpu_request": "100m", "memory_request": "128Mi"}
    if runner.buildkit:
        defaults.update(
            {
                # BuildKit snapshots live on ephemeral storage; the image VOLUME is nosuid on some nodes.
                "ephemeral_storage_request": "2Gi",
                "ephemeral_storage_limit": "20Gi",
                "volumes": {
                    "empty_dir": [{"name": "buildkit-state", "mount_path": versions.BUILDKIT_STATE_DIR}],
                },
            }
        )
    return defaults


def _owned(spec: FleetSpec, host: HostSpec, runner: RunnerSpec, token: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": f"{spec.stack}-{runner.key}",
        "url": spec.gitlab_url,
        "token": token,
        "executor": host.executor.value,
        "limit": runner.limit,
    }
    if runner.buildkit:
        entry["environment"] = [BUILDKIT_ENV]
    if host.executor is Executor.DOCKER:
        entry["docker"] = _docker_owned(runner)
    else:
        entry["kubernetes"] = _kubernetes_owned(host, runner)
    return entry


def _defaults(host: HostSpec, runner: RunnerSpec) -> dict[str, Any]:
    if host.executor is Executor.DOCKER:
        return {"docker": _docker_defaults()}
    return {"kubernetes": _kubernetes_defaults(runner)}


# --- merging -------------------------------------------------------------------------------------


def _concatenable(a: object, b: object) -> bool:
    """Lists of tables (volumes) and `environment` grow; other lists are replaced or conflict."""
    return isinstance(a, list) and isinstance(b, list) and all(isinstance(x, dict) for x in a + b)


def _overlay(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """`extra` over `base`: tables merge, lists of tables grow, anything else in extra wins."""
    out = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = _overlay(out[key], value)
        elif _concatenable(out.get(key), value):
            out[key] = out[key] + copy.deepcopy(value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _conflicts(owned: Mapping[str, Any], extra: Mapping[str, Any], prefix: str = "") -> list[str]:
    found = []
    for key, value in extra.items():
        path = f"{prefix}{key}"
        if key not in owned:
            continue
        mine = owned[key]
        if isinstance(mine, dict) and isinstance(value, dict):
            found += _conflicts(mine, value, f"{path}.")
        elif (key == "environment" and isinstance(value, list)) or _concatenable(mine, value):
            continue
        else:
            found.append(path)
    return found


def _relaxations(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key path, why) for everything in extraConfig that would relax a job's isolation."""
    found = []
    for section, keys in RELAXATIONS.items():
        table = extra.get(section)
        if isinstance(table, dict):
            found += [(f"{section}.{key}", "privileges, profiles or namespaces") for key in sorted(keys & set(table))]
    env = extra.get("environment")
    if isinstance(env, list) and any(str(e).startswith("BUILDKITD_FLAGS=") for e in env):
        found.append(("environment", "BUILDKITD_FLAGS"))
    docker = extra.get("docker")
    if isinstance(docker, dict):
        volumes = docker.get("volumes")
        if isinstance(volumes, list) and any("docker.sock" in str(v) or str(v).split(":")[0] == "/" for v in volumes):
            found.append(("docker.volumes", "the host's docker.sock or root filesystem"))
        if docker.get("network_mode") == "host":
            found.append(("docker.network_mode", "the host's network"))
    k8s = extra.get("kubernetes")
    if isinstance(k8s, dict):
        if isinstance(k8s.get("volumes"), dict) and "host_path" in k8s["volumes"]:
            found.append(("kubernetes.volumes.host_path", "the node's filesystem"))
        annotations = k8s.get("pod_annotations")
        prefixes = ("container.apparmor.", "seccomp.security.", "container.seccomp.")
        if isinstance(annotations, dict) and any(str(a).startswith(prefixes) for a in annotations):
            found.append(("kubernetes.pod_annotations", "AppArmor/seccomp profile annotations"))
    return found


@functools.lru_cache(maxsize=256)
def _parse_extra(text: str) -> dict[str, Any]:
    return tomllib.loads(text) if text.strip() else {}


def parse_extra(runner: RunnerSpec) -> dict[str, Any]:
    return copy.deepcopy(_parse_extra(runner.extra_config))


def runner_entry(spec: FleetSpec, host: HostSpec, runner: RunnerSpec, token: str) -> dict[str, Any]:
    """One `[[runners]]` table: defaults, then extraConfig, then the keys runner-fleet owns."""
    owned = _owned(spec, host, runner, token)
    merged = _overlay(_defaults(host, runner), parse_extra(runner))
    env = merged.pop("environment", [])
    merged = _overlay(merged, owned)
    if env or runner.buildkit:
        merged["environment"] = owned.get("environment", []) + [e for e in env if e not in owned.get("environment", [])]
    return _ordered_like(merged, owned)


def _ordered_like(merged: dict[str, Any], owned: Mapping[str, Any]) -> dict[str, Any]:
    """Owned keys first, in their order (identity reads first), then defaults and extraConfig."""
    keys = [k for k in owned if k in merged] + [k for k in merged if k not in owned]
    return {
        k: _ordered_like(merged[k], owned[k])
        if isinstance(merged[k], dict) and isinstance(owned.get(k), dict)
        else merged[k]
        for k in keys
    }


# --- the document ------------------------------------------------------------------------------


def config_document(spec: FleetSpec, host_key: str, tokens: Mapping[str, str]) -> dict[str, Any]:
    host = spec.host(host_key)
    return {
        "concurrent": host.concurrent,
        "check_interval": host.check_interval,
        "shutdown_timeout": host.shutdown_timeout,
        "log_level": host.log_level.value,
        "log_format": host.log_format.value,
        "listen_address": f":{versions.METRICS_PORT}",
        "runners": [runner_entry(spec, host, r, tokens[r.key]) for r in spec.runners_on(host_key)],
    }


def render(spec: FleetSpec, host_key: str, tokens: Mapping[str, str]) -> str:
    """The config.toml of one host's manager; `tokens` maps runner key -> glrt- token."""
    header = (
        f"# gitlab-runner config for host '{host_key}' of stack '{spec.stack}'.\n"
        "# Rendered by runner-fleet (pulumi up); edits here are overwritten on the next update.\n"
    )
    return header + tomli_w.dumps(config_document(spec, host_key, tokens))


def render_placeholder(spec: FleetSpec, host_key: str) -> str:
    """The same file with every token shown as `[secret]` (for previews and tests)."""
    return render(spec, host_key, {r.key: TOKEN_PLACEHOLDER for r in spec.runners_on(host_key)})


# --- validation --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def schema_errors(document: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    """(path, message) for every way `document` breaks gitlab-runner's config schema."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [(list(e.absolute_path), e.message) for e in errors]


def validate_text(text: str) -> list[str]:
    return [
        f"{'.'.join(map(str, path)) or '<root>'}: {message}" for path, message in schema_errors(tomllib.loads(text))
    ]


def _check_extra(spec: FleetSpec, host: HostSpec, runner: RunnerSpec) -> list[str]:
    """Problems of one runner's extraConfig; raises TOMLDecodeError when it is not TOML at all."""
    path = f"runners.{runner.key}.extraConfig"
    extra = parse_extra(runner)
    relaxed = _relaxations(extra)
    problems = [
        f"{path}.{key}: relaxes isolation ({why}); runner-fleet grants only the BuildKit relaxation, "
        "through buildkit: true"
        for key, why in relaxed
    ]
    owned = _owned(spec, host, runner, TOKEN_PLACEHOLDER)
    problems += [
        f"{path}.{key}: set by runner-fleet from the runner's own keys; change it there"
        for key in _conflicts(owned, extra)
        if key not in {k for k, _ in relaxed}
    ]
    return problems


def _check_schema(spec: FleetSpec, host: HostSpec) -> list[str]:
    """The host's whole config.toml against gitlab-runner's schema, errors mapped to stack keys."""
    runners = spec.runners_on(host.key)
    document = config_document(spec, host.key, {r.key: TOKEN_PLACEHOLDER for r in runners})
    problems = []
    for where, message in schema_errors(document):
        if len(where) >= 2 and where[0] == "runners" and isinstance(where[1], int):
            inner = "".join(f".{part}" for part in where[2:])
            problems.append(
                f"runners.{runners[where[1]].key}.extraConfig{inner}: {message} "
                f"(gitlab-runner {versions.RUNNER_VERSION} config schema)"
            )
        else:
            problems.append(f"hosts.{host.key}: rendered config.toml breaks the runner schema at {where}: {message}")
    return problems


def check_spec(spec: FleetSpec) -> list[str]:
    """Problems only rendering can find: bad extraConfig, owned-key conflicts, schema violations."""
    problems: list[str] = []
    for host in spec.hosts:
        parsed = True
        for runner in spec.runners_on(host.key):
            try:
                problems += _check_extra(spec, host, runner)
            except tomllib.TOMLDecodeError as exc:
                problems.append(f"runners.{runner.key}.extraConfig: not valid TOML ({exc})")
                parsed = False
        if parsed:
            problems += _check_schema(spec, host)
    return problems
