"""RunnerRegistration alone under the shared mock harness."""

from __future__ import annotations

from typing import Any

import pulumi
import pytest

from components.domain.model import RunnerSpec, Scope, ScopeKind
from components.plan.engine import PlanResult, run_function
from components.registration import RunnerRegistration, RunnerRegistrationArgs
from tests.harness import of_type

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
    (user_runner,) = of_type(result, USER_RUNNER)
    inputs = user_runner.display_inputs
    assert inputs["runnerType"] == runner_type
    for other in ("groupId", "projectId"):
        assert (other in inputs) == (other == field)
    if field:
        assert inputs[field] == scope_id


def test_registration_settings_and_secret_token() -> None:
    runner = _runner(tags=("x", "y"), protected_only=True, run_untagged=True, paused=True, maximum_timeout=900)
    result = _register(runner, protect=True)
    (user_runner,) = of_type(result, USER_RUNNER)
    inputs = user_runner.display_inputs
    assert inputs["tagLists"] == ["x", "y"] and inputs["untagged"] is True and inputs["paused"] is True
    assert inputs["accessLevel"] == "ref_protected" and inputs["maximumTimeout"] == 900
    assert inputs["description"] == "runner-fleet qa/r1"
    assert user_runner.options["protect"] is True
    (component,) = of_type(result, "runner-fleet:registration:RunnerRegistration")
    assert user_runner.parent == component.urn
    assert result.outputs["token"] == "[secret]"
    assert result.outputs["id"].isdigit()


def test_a_runner_without_maximum_timeout_declares_the_hour_the_drain_assumes() -> None:
    """Declared even when unset: the provider keeps GitLab's old value for an input the program stops declaring."""
    (user_runner,) = of_type(_register(_runner()), USER_RUNNER)
    assert user_runner.display_inputs["maximumTimeout"] == 3600  # README: runners without maximumTimeout: one hour
