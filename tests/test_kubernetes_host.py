"""KubernetesRunnerHost under the mock engine: what the provider would apply, validated strictly."""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Callable
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from components import manifests, mock_engine, plan, runner_config
from components.mock_engine import PlanResult, reveal
from tests.conftest import K8S_MIXED, of_kind, write_stack

VERSIONS = ["1.30.0", "1.34.0", "1.37.0"]


@pytest.fixture(scope="module")
def mixed_plan() -> PlanResult:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return mock_engine.run(mock_engine.read_stack_file(write_stack(Path(tmp), K8S_MIXED)))


@pytest.mark.parametrize("version", VERSIONS)
def test_planned_manifests_validate_strictly(mixed_plan: PlanResult, version: str) -> None:
    docs = plan.manifests(mixed_plan)
    assert set(docs) == {"eu", "us"}
    for host, objects in docs.items():
        for obj in objects:
            kubernetes_validate.validate(obj, version, strict=True)
        assert runner_config.validate_text(plan.config_files(mixed_plan)[host]) == []


def test_manifests_yaml_is_written_with_secrets_masked(mixed_plan: PlanResult, tmp_path: Path) -> None:
    plan.write(mixed_plan, tmp_path)
    text = (tmp_path / "hosts" / "eu" / "manifests.yaml").read_text()
    objects = list(yaml.safe_load_all(text))
    (secret,) = of_kind(objects, "Secret")
    assert secret["stringData"] == {"config.toml": "[secret]"}
    assert "glrt-" not in text and "token =" not in text
    assert not of_kind(objects, "ConfigMap")
    assert [o["kind"] for o in objects].count("Namespace") == 2
    assert not (tmp_path / "hosts" / "edge-1" / "manifests.yaml").exists()


def _checksums(result: PlanResult) -> dict[str, str]:
    out = {}
    for res in result.of_type("kubernetes:apps/v1:Deployment"):
        inputs = reveal(res.inputs)
        out[inputs["metadata"]["name"]] = inputs["spec"]["template"]["metadata"]["annotations"][
            manifests.CHECKSUM_ANNOTATION
        ]
    return out


def test_config_change_rolls_only_its_manager(plan_values: Callable[..., PlanResult], mixed_plan: PlanResult) -> None:
    changed = copy.deepcopy(K8S_MIXED)
    changed["runners"]["eu-tests"]["limit"] = 3
    after = plan_values(changed)
    before_sums, after_sums = _checksums(mixed_plan), _checksums(after)
    assert before_sums["gitlab-runner-eu"] != after_sums["gitlab-runner-eu"]
    assert before_sums["gitlab-runner-us"] == after_sums["gitlab-runner-us"]
    for res in mixed_plan.resources:
        if "host-us" in res.urn or "k8s-us" in res.urn:
            assert after.named(res.name, res.type).inputs == res.inputs, f"{res.name} changed"


def test_no_token_outside_secrets(mixed_plan: PlanResult) -> None:
    for res in mixed_plan.resources:
        shown = yaml.safe_dump(res.display_inputs)
        assert "glrt-" not in shown, res.name
    assert not mixed_plan.of_type("kubernetes:core/v1:ConfigMap")
    (secret,) = [r for r in mixed_plan.of_type("kubernetes:core/v1:Secret") if "eu" in r.name]
    assert "glrt-mock-" in reveal(secret.inputs)["stringData"]["config.toml"]


def test_only_the_buildkit_build_container_is_unconfined(mixed_plan: PlanResult) -> None:

    for host, text in plan.config_files(mixed_plan).items():
        for entry in tomllib.loads(text)["runners"]:
            k8s = entry.get("kubernetes")
            if k8s is None:
                continue
            build = k8s["build_container_security_context"]
            unconfined = build["seccomp_profile"]["type"] == "Unconfined"
            assert unconfined == entry["name"].endswith("images"), (host, entry["name"])
            for other in (
                "helper_container_security_context",
                "service_container_security_context",
                "pod_security_context",
            ):
                assert k8s[other]["seccomp_profile"]["type"] == "RuntimeDefault"
    for res in mixed_plan.of_type("kubernetes:apps/v1:Deployment"):
        assert "Unconfined" not in yaml.safe_dump(reveal(res.inputs)), "the manager is never relaxed"


def test_kubeconfig_contents_stay_secret(plan_values: Callable[..., PlanResult]) -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["us"]["kubernetes"]["kubeconfig"] = "usKubeconfig"
    result = plan_values(values, extra={"runner-fleet:usKubeconfig": {"secure": "v1:xyz"}})
    provider = result.named("k8s-us", "pulumi:providers:kubernetes").display_inputs
    assert provider["kubeconfig"] == "[secret]" and provider["context"] == "us-1"


def test_apply_order(mixed_plan: PlanResult) -> None:
    deployment = mixed_plan.named("host-eu-manager", "kubernetes:apps/v1:Deployment")
    for needed in (
        "host-eu-namespace",
        "host-eu-job-namespace",
        "host-eu-service-account",
        "host-eu-role-binding",
        "host-eu-config",
    ):
        assert needed in deployment.options["dependsOn"], needed
    role = mixed_plan.named("host-eu-role", "kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert "host-eu-job-namespace" in role.options["dependsOn"]
