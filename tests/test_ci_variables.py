"""CiVariables through the whole program: identity, settings, secrecy."""

from __future__ import annotations

import pytest

from components.spec import SpecError
from tests.conftest import Plan
from tests.fleets import fleet
from tests.harness import of_type, spec_of


def test_variables_are_identified_by_owner_key_and_environment(plan: Plan) -> None:
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
        {"group": "acme", "key": "REGISTRY_MIRROR", "value": "s3cr3t-value_123", "masked": True},
    ]
    result = plan(fleet(variables=variables))
    project_vars = {r.name: r.display_inputs for r in of_type(result, "gitlab:index/projectVariable:ProjectVariable")}
    group_vars = {r.name: r.display_inputs for r in of_type(result, "gitlab:index/groupVariable:GroupVariable")}
    assert len(project_vars) == 2 and len(group_vars) == 2
    scopes = sorted((v["environmentScope"], v["value"]) for v in project_vars.values())
    assert scopes == [("production", "https://api.acme.test"), ("review/*", "https://staging.acme.test")]
    by_key = {v["key"]: v for v in group_vars.values()}
    assert by_key["KUBECONFIG_DEV"]["variableType"] == "file" and by_key["KUBECONFIG_DEV"]["raw"] is True
    assert by_key["KUBECONFIG_DEV"]["protected"] is True
    assert by_key["REGISTRY_MIRROR"]["value"] == "[secret]", "a masked value is sensitive: kept secret"
    reordered = plan(fleet(variables=list(reversed(variables))))
    assert {r.name for r in reordered.resources} == {r.name for r in result.resources}


def test_a_hidden_variable_is_masked_secret_and_replaced_delete_first(plan: Plan) -> None:
    values = fleet(
        variables=[
            {"group": "acme", "key": "DEPLOY_TARGET", "value": "s3cr3t-value_123", "hidden": True},
            {"group": "acme", "key": "PLAIN", "value": "x"},
        ]
    )
    by_key = {r.inputs["key"]: r for r in of_type(plan(values), "gitlab:index/groupVariable:GroupVariable")}
    hidden, plain = by_key["DEPLOY_TARGET"], by_key["PLAIN"]
    assert hidden.inputs["hidden"] is True and hidden.inputs["masked"] is True
    assert hidden.display_inputs["value"] == "[secret]"
    assert hidden.options["deleteBeforeReplace"] is True, "GitLab refuses a second variable with the same key"
    assert "hidden" not in plain.inputs and plain.options["deleteBeforeReplace"] is False


def test_hidden_and_not_masked_is_refused() -> None:
    values = fleet(
        variables=[{"group": "acme", "key": "K", "value": "s3cr3t-value_123", "hidden": True, "masked": False}]
    )
    with pytest.raises(SpecError) as caught:
        spec_of(values)
    assert any(p.startswith("variables[0].masked: a hidden variable is masked") for p in caught.value.problems)
