"""What a runner's `extraConfig` may say, and the rendered config.toml against gitlab-runner's own schema.

Both checks need the rendered file, so they run once the fleet is otherwise read, on every manager that could
be built, and report in stack-file terms: a config.toml path of runner N becomes
`runners.<key>.extraConfig.<path>`. The renderer merges; this module decides what the merge may contain:
- no key runner-fleet owns (identity, executor, images, security settings) may be replaced;
- no relaxation of a job's isolation may be added: `buildkit: true` is the only relaxation, and it is exact.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from components import versions
from components.model import FleetSpec, ManagerSpec, RunnerSpec
from components.render import config_toml, schema
from components.spec.keys import MAX_DEPTH
from components.spec.problems import Problems

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
PROFILE_ANNOTATIONS = ("container.apparmor.", "seccomp.security.", "container.seccomp.")


def _docker_relaxations(docker: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    volumes = docker.get("volumes")
    if isinstance(volumes, list) and any("docker.sock" in str(v) or str(v).split(":")[0] == "/" for v in volumes):
        found.append(("docker.volumes", "the host's docker.sock or root filesystem"))
    if docker.get("network_mode") == "host":
        found.append(("docker.network_mode", "the host's network"))
    return found


def _kubernetes_relaxations(k8s: Mapping[str, Any]) -> list[tuple[str, str]]:
    found = []
    if isinstance(k8s.get("volumes"), dict) and "host_path" in k8s["volumes"]:
        found.append(("kubernetes.volumes.host_path", "the node's filesystem"))
    annotations = k8s.get("pod_annotations")
    if isinstance(annotations, dict) and any(str(a).startswith(PROFILE_ANNOTATIONS) for a in annotations):
        found.append(("kubernetes.pod_annotations", "AppArmor/seccomp profile annotations"))
    return found


def relaxations(extra: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(config.toml path, why) for everything in an extraConfig table that would relax a job's isolation."""
    found = []
    for section, names in RELAXATIONS.items():
        table = extra.get(section)
        if isinstance(table, dict):
            found += [(f"{section}.{key}", "privileges, profiles or namespaces") for key in sorted(names & set(table))]
    env = extra.get("environment")
    if isinstance(env, list) and any(str(e).startswith("BUILDKITD_FLAGS=") for e in env):
        found.append(("environment", "BUILDKITD_FLAGS"))
    if isinstance(extra.get("docker"), dict):
        found += _docker_relaxations(extra["docker"])
    if isinstance(extra.get("kubernetes"), dict):
        found += _kubernetes_relaxations(extra["kubernetes"])
    return found


def owned_overrides(owned: Mapping[str, Any], extra: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Dotted config.toml paths where `extra` would replace a value runner-fleet owns instead of adding to it."""
    found = []
    for key, value in extra.items():
        if key not in owned:
            continue
        path, mine = f"{prefix}{key}", owned[key]
        if isinstance(mine, dict) and isinstance(value, dict):
            found += owned_overrides(mine, value, f"{path}.")
        elif not config_toml.extends(key, mine, value):
            found.append(path)
    return found


def _check_runner(p: Problems, runner: RunnerSpec, manager: ManagerSpec | None) -> None:
    """Problems of one runner's extraConfig (which is TOML of a sane shape).

    Without a manager (its host is invalid) only what needs no host is checked: TOML, relaxations.
    """
    path = f"runners.{runner.key}.extraConfig"
    extra = config_toml.parse_extra(runner)
    relaxed = relaxations(extra)
    for key, why in relaxed:
        p.add(
            f"{path}.{key}",
            f"relaxes isolation ({why}); runner-fleet grants only the BuildKit relaxation, through buildkit: true",
        )
    reported = {key for key, _ in relaxed}
    owned = config_toml.owned_entry(manager, runner) if manager is not None else {}
    for key in owned_overrides(owned, extra):
        if key not in reported:
            p.add(f"{path}.{key}", "set by runner-fleet from the runner's own keys; change it there")


def _check_schema(p: Problems, manager: ManagerSpec) -> None:
    """The manager's whole config.toml against gitlab-runner's schema, errors mapped to stack keys."""
    document = config_toml.document(manager, config_toml.placeholder_tokens(manager))
    for where, message in schema.errors(document):
        if len(where) >= 2 and where[0] == "runners" and isinstance(where[1], int):
            inner = "".join(f".{part}" for part in where[2:])
            p.add(
                f"runners.{manager.runners[where[1]].key}.extraConfig{inner}",
                f"{message} (gitlab-runner {versions.RUNNER_VERSION} config schema)",
            )
        else:
            p.add(f"hosts.{manager.host.key}", f"rendered config.toml breaks the runner schema at {where}: {message}")


def _shape_problem(value: object, depth: int = 0) -> str | None:
    """What makes a parsed extraConfig unusable by gitlab-runner whatever its keys: depth, integer range."""
    if depth > MAX_DEPTH:
        return f"nested more than {MAX_DEPTH} levels deep"
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        return "holds an integer beyond 64 bits, which gitlab-runner cannot read"
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((found for item in items if (found := _shape_problem(item, depth + 1)) is not None), None)


def _checked(p: Problems, runner: RunnerSpec, manager: ManagerSpec | None) -> bool:
    """Check one runner's extraConfig; False when no config.toml can be rendered from it."""
    path = f"runners.{runner.key}.extraConfig"
    try:
        problem = _shape_problem(config_toml.parse_extra(runner))
    except tomllib.TOMLDecodeError as exc:
        problem = f"not valid TOML ({exc})"
    except RecursionError:
        problem = f"nested more than {MAX_DEPTH} levels deep"
    if problem is not None:
        p.add(path, problem)
        return False
    _check_runner(p, runner, manager)
    return True


def check(p: Problems, fleet: FleetSpec) -> None:
    """Every runner's extraConfig, then the whole file of every manager whose extraConfigs are TOML.

    Runners whose host is invalid are checked too, as far as that is possible without the host.
    """
    placed = set()
    for manager in fleet.managers:
        results = [_checked(p, runner, manager) for runner in manager.runners]
        placed |= {runner.key for runner in manager.runners}
        if all(results):
            _check_schema(p, manager)
    for runner in fleet.runners:
        if runner.key not in placed:
            _checked(p, runner, None)
