"""CiVariables through the whole program: identity, settings, secrecy."""

from __future__ import annotations

from tests.conftest import Plan
from tests.fleets import fleet
from tests.harness import of_type


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
        {"group": "acme", "key": "REGISTRY_PASSWORD", "value": "s3cr3t-value_123", "masked": True},
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
    assert by_key["REGISTRY_PASSWORD"]["value"] == "[secret]", "a masked value is sensitive: kept secret"
    reordered = plan(fleet(variables=list(reversed(variables))))
    assert {r.name for r in reordered.resources} == {r.name for r in result.resources}
