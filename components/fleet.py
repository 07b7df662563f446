"""RunnerFleet: the whole stack's fleet, wired from a validated `FleetConfig`.

Declares the explicit providers (GitLab, one per Docker engine or cluster), one `RunnerRegistration` per
runner, one host component per host (`DockerRunnerHost` or `KubernetesRunnerHost`) fed with the tokens
of the runners placed on it, and the CI/CD variables. Group and project paths are resolved to numeric
ids once per distinct path. Every name derives from a stable key, never from a position.
"""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gitlab as gitlab

from components import providers
from components.ci_variables import CiVariables, CiVariablesArgs
from components.docker_host import DockerRunnerHost, DockerRunnerHostArgs
from components.kubernetes_host import KubernetesRunnerHost, KubernetesRunnerHostArgs
from components.model import Executor, ScopeKind
from components.registration import RunnerRegistration, RunnerRegistrationArgs
from components.spec import FleetConfig

# Per executor: the provider for the host, the component that declares its manager, and its Args.
HOST_KINDS: dict[Executor, tuple[Any, Any, Any]] = {
    Executor.DOCKER: (providers.docker_provider, DockerRunnerHost, DockerRunnerHostArgs),
    Executor.KUBERNETES: (providers.kubernetes_provider, KubernetesRunnerHost, KubernetesRunnerHostArgs),
}


def _resolve_ids(
    config: FleetConfig, provider: gitlab.Provider, parent: pulumi.Resource
) -> dict[tuple[ScopeKind, str], pulumi.Output[int]]:
    """One lookup per distinct group/project path; numeric ids are used as they are."""
    opts = pulumi.InvokeOutputOptions(provider=provider, parent=parent)
    paths = sorted(
        {(r.scope.kind, r.scope.ref) for r in config.spec.runners if isinstance(r.scope.ref, str)},
        key=lambda p: (p[0].value, p[1]),
    )
    ids: dict[tuple[ScopeKind, str], pulumi.Output[int]] = {}
    for kind, path in paths:
        assert isinstance(path, str)
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

    def __init__(self, name: str, config: FleetConfig, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:fleet:RunnerFleet", name, None, opts)
        spec = config.spec
        child = pulumi.ResourceOptions(parent=self)
        gl = providers.gitlab_provider("gitlab", config.gitlab, child)
        ids = _resolve_ids(config, gl, self)

        registrations: dict[str, RunnerRegistration] = {}
        for runner in spec.runners:
            ref = runner.scope.ref
            scope_id = ids[(runner.scope.kind, ref)] if isinstance(ref, str) else ref
            registrations[runner.key] = RunnerRegistration(
                f"runner-{runner.key}",
                RunnerRegistrationArgs(runner=runner, stack=spec.stack, scope_id=scope_id, protect=spec.protect),
                pulumi.ResourceOptions(parent=self, providers=[gl]),
            )

        managers: dict[str, pulumi.Output[str]] = {}
        for host in spec.hosts:
            tokens = {r.key: registrations[r.key].token for r in spec.runners_on(host.key)}
            make_provider, component, component_args = HOST_KINDS[host.executor]
            provider = make_provider(host, config.secrets, child)
            declared = component(
                f"host-{host.key}",
                component_args(spec=spec, host_key=host.key, tokens=tokens),
                pulumi.ResourceOptions(parent=self, providers=[provider]),
            )
            managers[host.key] = declared.manager_name

        if spec.variables:
            CiVariables(
                "variables",
                CiVariablesArgs(variables=spec.variables, secrets=config.secrets, protect=spec.protect),
                pulumi.ResourceOptions(parent=self, providers=[gl]),
            )

        self.runner_ids = pulumi.Output.all(**{k: r.runner_id for k, r in registrations.items()})  # type: ignore[assignment]
        self.managers = pulumi.Output.all(**managers)  # type: ignore[assignment]
        self.register_outputs({"runnerIds": self.runner_ids, "managers": self.managers})
