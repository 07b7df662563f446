"""Every runner's `extraConfig` against the allow-list, and the rendered config.toml against gitlab-runner's schema.

Both need the rendered file or the runner's executor, so they run once the fleet is otherwise read, on every
runner (and every manager that could be built), and report in stack-file terms: a config.toml path of runner N
becomes `runners.<key>.extraConfig.<path>`. The renderer merges; `passthrough.py` says what the merge may
contain (a positive model: the keys listed there and nothing else); this module applies it and the schema.
"""

from __future__ import annotations

import tomllib

from components.domain import versions
from components.domain.model import FleetSpec, ManagerSpec, RunnerSpec
from components.domain.site import MAX_CA_BUNDLE
from components.domain.targets import KubernetesTarget
from components.render import config_toml, schema
from components.spec import passthrough
from components.spec.keys import MAX_DEPTH
from components.spec.problems import Problems


def _check_runner(p: Problems, runner: RunnerSpec, manager: ManagerSpec | None) -> bool:
    """Every key of one runner's extraConfig (TOML of a sane shape) against the allow-list.

    Without a manager (its host is invalid) the executor is unknown: both executors' keys are judged.
    True when every key is allowed.
    """
    extra = config_toml.parse_extra(runner)
    owned = config_toml.owned_entry(manager, runner) if manager is not None else {}
    executor = manager.host.executor.value if manager is not None else None
    found = passthrough.problems(extra, executor, owned)
    for key, why in found:
        p.add(f"runners.{runner.key}.extraConfig.{key}", why)
    return not found


SECRET_LIMIT = 1024 * 1024 - 4096  # a Kubernetes Secret holds 1 MiB, its metadata included
TOKEN_ROOM = 64  # a glrt- token is longer than the placeholder the file is measured with


def _check_size(p: Problems, manager: ManagerSpec) -> None:
    """A Kubernetes manager's config.toml travels in a Secret: it must fit one."""
    if isinstance(manager.host.target, KubernetesTarget):
        size = len(config_toml.render(manager, config_toml.placeholder_tokens(manager)).encode())
        size += TOKEN_ROOM * len(manager.runners)
        ca = manager.gitlab_ca
        # A CA in a secret config key is unknown here: count it at the largest size a written one may have.
        size += len(ca.pem.encode()) if ca is not None and ca.pem else MAX_CA_BUNDLE if ca is not None else 0
        if size > SECRET_LIMIT:
            p.add(
                f"hosts.{manager.host.key}",
                f"config.toml (with the GitLab CA) would be {size} bytes; a Kubernetes Secret holds at most "
                f"{SECRET_LIMIT}",
            )


def _check_schema(p: Problems, manager: ManagerSpec) -> None:
    """The manager's whole config.toml against gitlab-runner's schema, errors mapped to stack keys."""
    _check_size(p, manager)
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
    return _check_runner(p, runner, manager)  # a refused key is never rendered


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
