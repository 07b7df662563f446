"""Render one manager's gitlab-runner `config.toml`. Pure: no Pulumi, no I/O.

Tokens come in as plain strings at the edge (`Output.all(...).apply(render)` in the host components), so
the rendered text stays a Pulumi secret. Every rendered file validates against the runner's own config
schema (`schema.py`). Key reference: https://docs.gitlab.com/runner/configuration/advanced-configuration/

Each `[[runners]]` entry is built from three layers:
- *defaults* (volumes, resources, timeouts): `extraConfig` may override them;
- *extraConfig*: the user's TOML passthrough for everything runner-fleet does not model (what it may say is
  the spec's policy, `components/spec/extra_config.py`);
- *owned* keys (identity, executor, images, every security setting): they always win over extraConfig.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import tomllib
from collections.abc import Mapping
from typing import Any, assert_never

import tomli_w

from components.domain import autoscaler, cache, images, naming, site
from components.domain.model import REDACTED, ManagerSpec, RunnerSpec
from components.domain.targets import DockerTarget, KubernetesTarget
from components.render import labels

METRICS_PORT = labels.METRICS_PORT

# Facts of the rootless BuildKit image and of how it runs without a process sandbox.
BUILDKITD_FLAGS = "--oci-worker-no-process-sandbox"
BUILDKIT_ENV = f"BUILDKITD_FLAGS={BUILDKITD_FLAGS}"
BUILDKIT_UID = 1000  # USER 1000:1000 in moby/buildkit:rootless
BUILDKIT_STATE_DIR = "/home/user/.local/share/buildkit"
SECURITY_OPT_UNCONFINED = ("seccomp=unconfined", "apparmor=unconfined")  # the `=` form; `:` is deprecated
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/build"
DOCKER_AUTH_CONFIG = "DOCKER_AUTH_CONFIG"
JOBS_ALWAYS_DIRECT = ("localhost", "127.0.0.1")
"""Never through the proxy for jobs: services on Kubernetes, and a job's own listeners."""
MANAGER_CA_DIR = {"docker": "/etc/gitlab-runner/certs", "kubernetes": "/home/gitlab-runner/.gitlab-runner/certs"}
"""Where the manager finds the GitLab CA (`tls-ca-file`), by executor: next to its config.toml, delivered with it."""


def manager_ca_file(manager: ManagerSpec, ca_text: str) -> str:
    """The manager's CA file. On Docker its name carries the CA's digest: gitlab-runner keeps one network client
    per CA file path and re-reads a file only when its mtime is newer than the client (the clock of the machine
    that uploaded it against the host's), so a new CA gets a new path, and a new client, whatever the clocks say.
    A Kubernetes manager restarts (rolls) on every CA change anyway."""
    executor = manager.host.executor.value
    if executor == "kubernetes":
        return f"{MANAGER_CA_DIR[executor]}/{site.CA_FILE}"
    return f"{MANAGER_CA_DIR[executor]}/ca-{hashlib.sha256(ca_text.encode()).hexdigest()[:16]}.crt"


def _ca_text(manager: ManagerSpec, secrets: Mapping[str, str] | None) -> str:
    """The CA as the manager gets it (REDACTED for a secret one whose value is not given)."""
    ca = manager.gitlab_ca
    if ca is None:
        return ""
    if ca.secret is None:
        return ca.pem or ""
    return (secrets or {}).get(ca.secret, REDACTED)


# --- the keys runner-fleet owns ------------------------------------------------------------------


def _image_policy(runner: RunnerSpec) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "image": runner.image,
        "pull_policy": [runner.pull_policy.value],
        "allowed_pull_policies": [runner.pull_policy.value],
    }
    if runner.allowed_images:
        policy["allowed_images"] = list(runner.allowed_images)
    return policy


def _helper(manager: ManagerSpec, *, kubernetes: bool = False) -> dict[str, Any]:
    """The helper image at the manager's exact release, multi-arch (images.helper_image): from the mirror under one,
    and on Kubernetes always (its executor assumes amd64 nodes otherwise)."""
    helper = images.helper_image(manager.host.runner_image, manager.registry_mirror, kubernetes=kubernetes)
    return {"helper_image": helper} if helper is not None else {}


def _docker_owned(manager: ManagerSpec, runner: RunnerSpec) -> dict[str, Any]:
    docker: dict[str, Any] = {
        **_image_policy(runner),
        **_helper(manager),
        "privileged": False,
        "services_privileged": False,
    }

    if runner.buildkit:
        docker.update(
            {
                # rootlesskit needs unshare/mount: seccomp and AppArmor unconfined, for this runner's job
                # containers only. `systempaths=unconfined` cannot pass through the runner (runner issue
                # 36810), hence BUILDKITD_FLAGS.
                "security_opt": list(SECURITY_OPT_UNCONFINED),
                # The job must override the image's `rootlesskit buildkitd` entrypoint (`entrypoint: [""]`).
                "disable_entrypoint_overwrite": False,
                # The unconfined container runs as the image's non-root user, never as a user the job picks.
                "allowed_users": [str(BUILDKIT_UID), "user"],
            }
        )
    return docker


def _unconfined_build_context(target: KubernetesTarget) -> dict[str, Any]:
    context: dict[str, Any] = {
        "run_as_user": BUILDKIT_UID,
        "run_as_group": BUILDKIT_UID,
        "run_as_non_root": True,
        "seccomp_profile": {"type": "Unconfined"},
        # No allow_privilege_escalation=false here: it sets no_new_privs, which breaks the setuid
        # newuidmap that rootlesskit needs (moby/buildkit#1671).
    }
    if not target.apparmor_fallback:
        context["app_armor_profile"] = {"type": "Unconfined"}  # Kubernetes >= 1.30, runner >= 18.11
    return context


def _confined_context() -> dict[str, Any]:
    return {
        "allow_privilege_escalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccomp_profile": {"type": "RuntimeDefault"},
    }


def _kubernetes_owned(manager: ManagerSpec, target: KubernetesTarget, runner: RunnerSpec) -> dict[str, Any]:
    k8s: dict[str, Any] = {
        "namespace": target.job_namespace,
        **_image_policy(runner),
        **_helper(manager, kubernetes=True),
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
        k8s["build_container_security_context"] = _unconfined_build_context(target)
        if target.apparmor_fallback:
            # Clusters older than 1.30 have no appArmorProfile field; the deprecated annotation targets
            # the container named "build" only.
            k8s["pod_annotations"] = {APPARMOR_ANNOTATION: "unconfined"}
    else:
        k8s["build_container_security_context"] = {"seccomp_profile": {"type": "RuntimeDefault"}}
    if target.node_selector:
        k8s["node_selector"] = dict(target.node_selector)
    if target.tolerations:
        k8s["node_tolerations"] = dict(target.tolerations)
    if manager.gitlab_ca is not None:
        mount = {"name": labels.ca_secret_name(manager.host.key), "mount_path": site.CA_DIR, "read_only": True}
        k8s["volumes"] = {"secret": [mount]}
    return k8s


def secret_keys(manager: ManagerSpec) -> tuple[str, ...]:
    """The secret config keys the manager's config.toml holds values of (cache credentials, registry auth)."""
    caches = {key for r in manager.runners if r.cache is not None for key in r.cache.secret_keys}
    ca = {manager.gitlab_ca.secret} if manager.gitlab_ca is not None and manager.gitlab_ca.secret else set()
    scalers = {key for r in manager.runners if r.autoscaler is not None for key in r.autoscaler.secret_keys}
    return tuple(sorted(caches | ca | scalers | {r.registry_auth for r in manager.runners if r.registry_auth}))


def _environment(manager: ManagerSpec, runner: RunnerSpec, secrets: Mapping[str, str] | None) -> list[str]:
    """The job environment runner-fleet sets: BuildKit's flags, the host's proxy, the registry credentials."""
    env = [BUILDKIT_ENV] if runner.buildkit else []
    proxy = manager.host.proxy
    if proxy is not None and runner.use_host_proxy:
        env += [f"{name}={value}" for name, value in proxy.environment(JOBS_ALWAYS_DIRECT)]
    if runner.registry_auth is not None:
        auth = (secrets or {}).get(runner.registry_auth, REDACTED)
        env.append(f"{DOCKER_AUTH_CONFIG}={auth.strip()}")
    return env


def executor(manager: ManagerSpec, runner: RunnerSpec) -> str:
    """The runner's gitlab-runner executor: its host's, or docker-autoscaler for a runner with an instance group
    (which wraps the Docker executor: main.go registers it as `autoscaler.NewProvider(dockerProvider)`)."""
    if runner.autoscaler is not None and isinstance(manager.host.target, DockerTarget):
        return autoscaler.EXECUTOR
    return manager.host.executor.value


def owned_entry(
    manager: ManagerSpec, runner: RunnerSpec, token: str = REDACTED, secrets: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The keys of `runner`'s [[runners]] entry that runner-fleet sets from the runner's own keys; `secrets`
    (config key -> value) fill the cache's credentials, shown as REDACTED when not given."""
    entry: dict[str, Any] = {
        "name": naming.config_runner_name(manager.stack, runner.key),
        "url": manager.gitlab_url,
        "token": token,
        "executor": executor(manager, runner),
        "limit": runner.limit,
    }
    if manager.gitlab_ca is not None:
        entry["tls-ca-file"] = manager_ca_file(manager, _ca_text(manager, secrets))
    if environment := _environment(manager, runner, secrets):
        entry["environment"] = environment
    target = manager.host.target
    match target:
        case DockerTarget():
            # With docker-autoscaler this section still configures the job's containers, on the instance.
            entry["docker"] = _docker_owned(manager, runner)
            if runner.autoscaler is not None:
                values = secrets if secrets is not None else dict.fromkeys(runner.autoscaler.secret_keys, REDACTED)
                entry["autoscaler"] = autoscaler.table(runner.autoscaler, values)
        case KubernetesTarget():
            entry["kubernetes"] = _kubernetes_owned(manager, target, runner)
        case _:
            assert_never(target)
    if runner.cache is not None:
        values = secrets if secrets is not None else dict.fromkeys(runner.cache.secret_keys, REDACTED)
        entry["cache"] = cache.table(runner.cache, values)
    return entry


def is_buildkit_relaxed(entry: Mapping[str, Any]) -> bool:
    """Whether a rendered [[runners]] entry carries the BuildKit relaxation (`owned_entry` of a BuildKit runner)."""
    build = entry.get("kubernetes", {}).get("build_container_security_context", {})
    return "security_opt" in entry.get("docker", {}) or build.get("seccomp_profile", {}).get("type") == "Unconfined"


# --- defaults that extraConfig may override ------------------------------------------------------


def _kubernetes_defaults(runner: RunnerSpec) -> dict[str, Any]:
    defaults: dict[str, Any] = {"poll_timeout": 180, "cpu_request": "100m", "memory_request": "128Mi"}
    if runner.buildkit:
        defaults.update(
            {
                # BuildKit snapshots live on ephemeral storage; the image VOLUME is nosuid on some nodes.
                "ephemeral_storage_request": "2Gi",
                "ephemeral_storage_limit": "20Gi",
                "volumes": {"empty_dir": [{"name": "buildkit-state", "mount_path": BUILDKIT_STATE_DIR}]},
            }
        )
    return defaults


def _defaults(manager: ManagerSpec, runner: RunnerSpec) -> dict[str, Any]:
    target = manager.host.target
    match target:
        case DockerTarget():
            return {"docker": {"volumes": ["/cache"]}}
        case KubernetesTarget():
            return {"kubernetes": _kubernetes_defaults(runner)}
        case _:
            assert_never(target)


# --- merging -------------------------------------------------------------------------------------


def _concatenable(a: object, b: object) -> bool:
    """Lists of tables (volumes) grow; other lists are replaced or conflict."""
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


@functools.lru_cache(maxsize=256)
def _parse_extra(text: str) -> dict[str, Any]:
    return tomllib.loads(text) if text.strip() else {}


def parse_extra(runner: RunnerSpec) -> dict[str, Any]:
    """The runner's extraConfig as a table (a fresh copy); raises TOMLDecodeError when it is not TOML."""
    return copy.deepcopy(_parse_extra(runner.extra_config))


def runner_entry(
    manager: ManagerSpec, runner: RunnerSpec, token: str, secrets: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """One `[[runners]]` table: defaults, then extraConfig, then the keys runner-fleet owns."""
    owned = owned_entry(manager, runner, token, secrets)
    merged = _overlay(_defaults(manager, runner), parse_extra(runner))
    env = merged.pop("environment", [])
    merged = _overlay(merged, owned)
    binds = [d.volume for d in runner.host_directories]  # the checked host directories
    if manager.gitlab_ca is not None and isinstance(manager.host.target, DockerTarget) and runner.autoscaler is None:
        # The CA in a volume of its own (never the config volume, never a host path), read-only. Instances have
        # no such volume (an empty one would be created): autoscaled jobs get the CA from gitlab-runner only.
        binds.append(f"{labels.ca_volume_name(manager.stack, manager.host.key)}:{site.CA_DIR}:ro")
    if binds:  # after the container's own volumes, replacing an anonymous volume at the same path
        mounts = {b.split(":")[1] for b in binds}
        docker = merged.setdefault("docker", {})
        docker["volumes"] = [v for v in docker.get("volumes", []) if v not in mounts] + binds
    if env or "environment" in owned:
        mine = owned.get("environment", [])
        merged["environment"] = mine + [e for e in env if e not in mine]
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


def document(
    manager: ManagerSpec, tokens: Mapping[str, str], secrets: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """config.toml as a table; `tokens` maps runner key -> glrt- token, `secrets` config key -> value for the
    keys in `secret_keys(manager)` (REDACTED when not given)."""
    host = manager.host
    return {
        "concurrent": host.concurrent,
        "check_interval": host.check_interval,
        "shutdown_timeout": host.shutdown_timeout,
        "log_level": host.log_level.value,
        "log_format": host.log_format.value,
        "listen_address": f":{METRICS_PORT}",
        "runners": [_entry(manager, r, tokens, secrets, key) for r in manager.runners for key in token_keys(r)],
    }


def token_keys(runner: RunnerSpec) -> tuple[str, ...]:
    """The keys of the tokens a runner's entries need: its current registration's only. A registration that token
    rotation retires leaves config.toml when its window begins (domain/rotation.py): the manager stops polling it,
    and the jobs it already runs finish (each running build keeps its own copy of the runner's settings)."""
    return (runner.key,)


def _entry(
    manager: ManagerSpec, runner: RunnerSpec, tokens: Mapping[str, str], secrets: Mapping[str, str] | None, key: str
) -> dict[str, Any]:
    """The [[runners]] entry for one registration."""
    return runner_entry(manager, runner, tokens[key], secrets)


def placeholder_tokens(manager: ManagerSpec) -> dict[str, str]:
    """Every registration's token shown as REDACTED: for checks, previews and tests."""
    return {key: REDACTED for r in manager.runners for key in token_keys(r)}


def render(manager: ManagerSpec, tokens: Mapping[str, str], secrets: Mapping[str, str] | None = None) -> str:
    """The config.toml of one manager; `tokens` maps runner key -> glrt- token, `secrets` as for `document`."""
    header = (
        f"# gitlab-runner config for host '{manager.host.key}' of stack '{manager.stack}'.\n"
        "# Rendered by runner-fleet (pulumi up); edits here are overwritten on the next update.\n"
    )
    return header + tomli_w.dumps(document(manager, tokens, secrets))


def checksum(config: str, ca_bundle: str | None = None) -> str:
    """What a manager's config (and CA) amounts to, for what must change when they do (the Kubernetes pod
    template, the Docker reloader's label); a digest is not the text."""
    digest = hashlib.sha256(config.encode())
    if ca_bundle is not None:
        digest.update(b"\0" + ca_bundle.encode())
    return "sha256:" + digest.hexdigest()
