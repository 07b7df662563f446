"""RunnerFleet: the whole stack's fleet, wired from a validated `FleetConfig`.

Declares the explicit providers (GitLab, one per Docker engine or cluster), one `RunnerRegistration` per
runner, one host component per host (`DockerRunnerHost` or `KubernetesRunnerHost`) fed with the tokens
of the runners placed on it, and the CI/CD variables. Group and project paths are resolved to numeric
ids once per distinct path. Every name derives from a stable key, never from a position.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import assert_never

import pulumi
import pulumi_gitlab as gitlab

from components import providers
from components.ci_variables import CiVariables, CiVariablesArgs
from components.docker_host import DockerRunnerHost, DockerRunnerHostArgs
from components.domain import naming
from components.domain.model import ManagerSpec, ScopeKind
from components.domain.targets import DockerTarget, KubernetesTarget
from components.kubernetes_host import KubernetesRunnerHost, KubernetesRunnerHostArgs
from components.registration import RunnerRegistration, RunnerRegistrationArgs
from components.spec import FleetConfig


def _resolve_ids(
    config: FleetConfig, provider: gitlab.Provider, parent: pulumi.Resource
) -> dict[tuple[ScopeKind, str], pulumi.Output[int]]:
    """One lookup per distinct group/project path; numeric ids are used as they are."""
    opts = pulumi.InvokeOutputOptions(provider=provider, parent=parent)
    paths: set[tuple[ScopeKind, str]] = set()
    for runner in config.spec.runners:
        if isinstance(runner.scope.ref, str):
            paths.add((runner.scope.kind, runner.scope.ref))
    ids: dict[tuple[ScopeKind, str], pulumi.Output[int]] = {}
    for kind, path in sorted(paths):
        if kind is ScopeKind.PROJECT:
            project = gitlab.get_project_output(path_with_namespace=path, opts=opts)
            ids[(kind, path)] = pulumi.Output.unsecret(project.id.apply(int))
        else:
            group = gitlab.get_group_output(full_path=path, opts=opts)
            ids[(kind, path)] = pulumi.Output.unsecret(group.group_id.apply(int))
    return ids


class RunnerFleet(pulumi.ComponentResource):
    runner_ids: pulumi.Output[dict[str, str]]
    managers: pulumi.Output[dict[str, str]]
    manager_generations: dict[str, str]
    """Docker host key -> its manager's generation (the suffix of the manager's name), known before `up`."""

    def __init__(self, name: str, config: FleetConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:fleet:RunnerFleet", name, None, opts)
        spec = config.spec
        gl = providers.gitlab_provider(naming.GITLAB_PROVIDER, config.gitlab, pulumi.ResourceOptions(parent=self))
        ids = _resolve_ids(config, gl, self)

        registrations: dict[str, RunnerRegistration] = {}
        for runner in spec.runners:
            ref = runner.scope.ref
            scope_id = ids[(runner.scope.kind, ref)] if isinstance(ref, str) else ref
            registrations[runner.key] = RunnerRegistration(
                naming.runner(runner.key),
                RunnerRegistrationArgs(runner=runner, stack=spec.stack, scope_id=scope_id, protect=spec.protect),
                pulumi.ResourceOptions(parent=self, providers=[gl]),
            )

        managers: dict[str, pulumi.Output[str]] = {}
        generations: dict[str, str] = {}
        for manager in spec.managers:
            # Each manager polls its runners' current registrations only; a retiring one is paused after the host
            # (its config.toml without it) is in place, and feeds nothing, so the order has no cycle.
            tokens = {r.key: registrations[r.key].token for r in manager.runners}
            host, managers[manager.host.key] = self._host(manager, tokens, config.secrets)
            if isinstance(host, DockerRunnerHost):
                generations[manager.host.key] = host.generation
            for runner in manager.runners:
                registrations[runner.key].retire(after=[host])

        if spec.variables:
            CiVariables(
                naming.VARIABLES,
                CiVariablesArgs(variables=spec.variables, secrets=config.secrets, protect=spec.protect),
                pulumi.ResourceOptions(parent=self, providers=[gl]),
            )

        self.runner_ids = pulumi.Output.all(**{k: r.runner_id for k, r in registrations.items()})
        self.managers = pulumi.Output.all(**managers)
        self.manager_generations = generations
        self.register_outputs(
            {"runnerIds": self.runner_ids, "managers": self.managers, "managerGenerations": generations}
        )

    def _host(
        self, manager: ManagerSpec, tokens: Mapping[str, pulumi.Output[str]], secrets: Mapping[str, pulumi.Output[str]]
    ) -> tuple[pulumi.Resource, pulumi.Output[str]]:
        """The host's provider and manager component, by where the manager runs; returns it and the manager's name."""
        name, key, child = naming.host(manager.host.key), manager.host.key, pulumi.ResourceOptions(parent=self)
        target = manager.host.target
        match target:
            case DockerTarget():
                docker = providers.docker_provider(key, target, secrets, child)
                docker_host = DockerRunnerHost(
                    name,
                    DockerRunnerHostArgs(manager=manager, tokens=tokens, secrets=secrets),
                    pulumi.ResourceOptions(parent=self, providers=[docker]),
                )
                return docker_host, docker_host.manager_name
            case KubernetesTarget():
                cluster = providers.kubernetes_provider(key, target, secrets, child)
                cluster_host = KubernetesRunnerHost(
                    name,
                    KubernetesRunnerHostArgs(manager=manager, target=target, tokens=tokens, secrets=secrets),
                    pulumi.ResourceOptions(parent=self, providers=[cluster]),
                )
                return cluster_host, cluster_host.manager_name
            case _:
                assert_never(target)
