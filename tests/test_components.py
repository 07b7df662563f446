"""Component tests: each component alone under the shared mock harness, asserting what an operator checks."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.docker_host import DockerRunnerHost, DockerRunnerHostArgs
from components.mock_engine import PlanResult, run_function
from components.model import RunnerSpec, Scope, ScopeKind
from components.registration import RunnerRegistration, RunnerRegistrationArgs
from tests.conftest import fleet, spec_of

USER_RUNNER = "gitlab:index/userRunner:UserRunner"


def _runner(**kw: Any) -> RunnerSpec:
    base: dict[str, Any] = {
        "key": "r1",
        "host": "h",
        "scope": Scope(ScopeKind.INSTANCE),
        "tags": ("a",),
        "image": "alpine:3.22",
        "allowed_images": (),
    }
    base.update(kw)
    return RunnerSpec(**base)


def _register(runner: RunnerSpec, scope_id: Any = None, protect: bool = False) -> PlanResult:
    def body() -> None:
        reg = RunnerRegistration(
            "runner-r1", RunnerRegistrationArgs(runner=runner, stack="qa", scope_id=scope_id, protect=protect)
        )
        pulumi.export("token", reg.token)
        pulumi.export("id", reg.runner_id)

    return run_function(body, stack="qa")


@pytest.mark.parametrize(
    ("scope", "scope_id", "field", "runner_type"),
    [
        (Scope(ScopeKind.INSTANCE), None, None, "instance_type"),
        (Scope(ScopeKind.GROUP, 12), 12, "groupId", "group_type"),
        (Scope(ScopeKind.PROJECT, "a/b"), 34, "projectId", "project_type"),
    ],
)
def test_registration_scope(scope: Scope, scope_id: Any, field: str | None, runner_type: str) -> None:
    result = _register(_runner(scope=scope), scope_id)
    (user_runner,) = result.of_type(USER_RUNNER)
    inputs = user_runner.display_inputs
    assert inputs["runnerType"] == runner_type
    for other in ("groupId", "projectId"):
        assert (other in inputs) == (other == field)
    if field:
        assert inputs[field] == scope_id


def test_registration_settings_and_secret_token() -> None:
    runner = _runner(tags=("x", "y"), protected_only=True, run_untagged=True, paused=True, maximum_timeout=900)
    result = _register(runner, protect=True)
    (user_runner,) = result.of_type(USER_RUNNER)
    inputs = user_runner.display_inputs
    assert inputs["tagLists"] == ["x", "y"] and inputs["untagged"] is True and inputs["paused"] is True
    assert inputs["accessLevel"] == "ref_protected" and inputs["maximumTimeout"] == 900
    assert inputs["description"] == "runner-fleet qa/r1"
    assert user_runner.options["protect"] is True
    (component,) = result.of_type("runner-fleet:registration:RunnerRegistration")
    assert user_runner.parent == component.urn
    assert result.outputs["token"] == "[secret]"
    assert result.outputs["id"].isdigit()


def _docker_host(values: dict[str, Any], host: str = "edge-1") -> PlanResult:
    spec = spec_of(values)

    def body() -> None:
        tokens = {r.key: pulumi.Output.secret(f"glrt-test-{r.key}") for r in spec.runners_on(host)}
        DockerRunnerHost(f"host-{host}", DockerRunnerHostArgs(spec=spec, host_key=host, tokens=tokens))

    return run_function(body)


def test_docker_host_children_have_the_host_as_parent() -> None:
    result = _docker_host(fleet())
    (component,) = result.of_type("runner-fleet:docker_host:DockerRunnerHost")
    children = {r.type.split(":")[-1] + ":" + r.name for r in result.children(component)}
    assert children == {
        "RemoteImage:host-edge-1-runner-image",
        "Volume:host-edge-1-config",
        "Container:host-edge-1-config-writer",
        "Container:host-edge-1-manager",
    }
    image = result.named("host-edge-1-runner-image").display_inputs
    assert image["name"] == "gitlab/gitlab-runner:alpine-v19.3.0" and image["keepLocally"] is True


def test_config_change_replaces_the_writer_not_the_manager() -> None:
    before = _docker_host(fleet())
    changed = fleet()
    changed["runners"]["unit"]["limit"] = 5
    changed["hosts"]["edge-1"]["concurrent"] = 9
    after = _docker_host(changed)
    name = "host-edge-1-manager"
    assert before.named(name).inputs == after.named(name).inputs, "a config change must not touch the manager"
    writer = "host-edge-1-config-writer"
    assert before.named(writer).inputs != after.named(writer).inputs
    manager = after.named(name)
    assert "host-edge-1-config-writer" in manager.options["dependsOn"], "config is in place before the manager starts"


def test_longer_job_timeout_lengthens_the_drain() -> None:
    values = fleet()
    values["runners"]["unit"]["maximumTimeout"] = 10800
    manager = _docker_host(values).named("host-edge-1-manager").display_inputs
    assert manager["destroyGraceSeconds"] == 10800 + 60


def test_variables_are_identified_by_owner_key_and_environment(plan_values: Any) -> None:
    variables = [
        {"project": "acme/app", "key": "API_URL", "value": "https://api.acme.test", "environmentScope": "production"},
        {"project": "acme/app", "key": "API_URL", "value": "https://staging.acme.test", "environmentScope": "review/*"},
        {
            "group": "acme",
            "key": "KUBECONFIG_DEV",
            "value": "apiVersion: v1",
            "type": "file",
            "protected": True,
            "raw": True,
        },
        {"group": "acme", "key": "REGISTRY_PASSWORD", "value": "s3cr3t-value_123", "masked": True},
    ]
    result = plan_values(fleet(variables=variables))
    project_vars = {r.name: r.display_inputs for r in result.of_type("gitlab:index/projectVariable:ProjectVariable")}
    group_vars = {r.name: r.display_inputs for r in result.of_type("gitlab:index/groupVariable:GroupVariable")}
    assert len(project_vars) == 2 and len(group_vars) == 2
    scopes = sorted((v["environmentScope"], v["value"]) for v in project_vars.values())
    assert scopes == [("production", "https://api.acme.test"), ("review/*", "https://staging.acme.test")]
    by_key = {v["key"]: v for v in group_vars.values()}
    assert by_key["KUBECONFIG_DEV"]["variableType"] == "file" and by_key["KUBECONFIG_DEV"]["raw"] is True
    assert by_key["KUBECONFIG_DEV"]["protected"] is True
    assert by_key["REGISTRY_PASSWORD"]["value"] == "[secret]", "a masked value is sensitive: kept secret"
    reordered = plan_values(fleet(variables=list(reversed(variables))))
    assert {r.name for r in reordered.resources} == {r.name for r in result.resources}
