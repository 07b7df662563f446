"""kubernetes_host: KubernetesRunnerHost under the mock engine, what the provider would apply, validated strictly."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components.plan import report
from components.plan.engine import PlanResult, reveal
from components.render import config_toml, manifests
from tests.conftest import Plan
from tests.fleets import K8S_FLEET, K8S_MIXED, ciphertext
from tests.harness import named, objects, of_kind, of_type, spec_of, validate_text

VERSIONS = ["1.30.0", "1.34.0", "1.37.0"]


@pytest.fixture
def mixed_plan(plan: Plan) -> PlanResult:
    return plan(K8S_MIXED)


@pytest.mark.parametrize("version", VERSIONS)
def test_planned_manifests_validate_strictly(mixed_plan: PlanResult, version: str) -> None:
    docs = report.manifests(mixed_plan)
    assert set(docs) == {"eu", "us"}
    for host, declared in docs.items():
        for obj in declared:
            kubernetes_validate.validate(obj, version, strict=True)
        assert validate_text(report.config_files(mixed_plan)[host]) == []


def test_manifests_yaml_is_written_with_secrets_masked(mixed_plan: PlanResult, tmp_path: Path) -> None:
    report.write(mixed_plan, tmp_path)
    text = (tmp_path / "hosts" / "eu" / "manifests.yaml").read_text()
    objects = list(yaml.safe_load_all(text))
    (secret,) = of_kind(objects, "Secret")
    assert secret["stringData"] == {"config.toml": "[secret]", ".runner_system_id": "[secret]"}
    assert "glrt-" not in text and "token =" not in text
    assert not of_kind(objects, "ConfigMap")
    assert [o["kind"] for o in objects].count("Namespace") == 2
    assert not (tmp_path / "hosts" / "edge-1" / "manifests.yaml").exists()


def _checksums(result: PlanResult) -> dict[str, str]:
    out = {}
    for res in of_type(result, "kubernetes:apps/v1:Deployment"):
        inputs = reveal(res.inputs)
        out[inputs["metadata"]["name"]] = inputs["spec"]["template"]["metadata"]["annotations"][
            manifests.CHECKSUM_ANNOTATION
        ]
    return out


def test_config_change_rolls_only_its_manager(plan: Plan, mixed_plan: PlanResult) -> None:
    changed = copy.deepcopy(K8S_MIXED)
    changed["runners"]["eu-tests"]["limit"] = 3
    after = plan(changed)
    before_sums, after_sums = _checksums(mixed_plan), _checksums(after)
    assert before_sums["gitlab-runner-eu"] != after_sums["gitlab-runner-eu"]
    assert before_sums["gitlab-runner-us"] == after_sums["gitlab-runner-us"]
    for res in mixed_plan.resources:
        if "host-us" in res.urn or "k8s-us" in res.urn:
            assert named(after, res.name, res.type).inputs == res.inputs, f"{res.name} changed"


def test_no_token_outside_secrets(mixed_plan: PlanResult) -> None:
    for res in mixed_plan.resources:
        shown = yaml.safe_dump(res.display_inputs)
        assert "glrt-" not in shown, res.name
    assert not of_type(mixed_plan, "kubernetes:core/v1:ConfigMap")
    (secret,) = [r for r in of_type(mixed_plan, "kubernetes:core/v1:Secret") if "eu" in r.name]
    assert "glrt-mock-" in reveal(secret.inputs)["stringData"]["config.toml"]


def test_only_the_buildkit_build_container_is_unconfined(mixed_plan: PlanResult) -> None:

    for host, text in report.config_files(mixed_plan).items():
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
    for res in of_type(mixed_plan, "kubernetes:apps/v1:Deployment"):
        assert "Unconfined" not in yaml.safe_dump(reveal(res.inputs)), "the manager is never relaxed"


def test_kubeconfig_contents_stay_secret(plan: Plan) -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["us"]["kubernetes"]["kubeconfig"] = "usKubeconfig"
    result = plan(values, extra={"runner-fleet:usKubeconfig": {"secure": ciphertext("xyz")}})
    provider = named(result, "k8s-us", "pulumi:providers:kubernetes").display_inputs
    assert provider["kubeconfig"] == "[secret]" and provider["context"] == "us-1"


def test_apply_order(mixed_plan: PlanResult) -> None:
    deployment = named(mixed_plan, "host-eu-manager", "kubernetes:apps/v1:Deployment")
    for needed in (
        "host-eu-namespace",
        "host-eu-job-namespace",
        "host-eu-service-account",
        "host-eu-role-binding",
        "host-eu-config",
    ):
        assert needed in deployment.options["dependsOn"], needed
    role = named(mixed_plan, "host-eu-role", "kubernetes:rbac.authorization.k8s.io/v1:Role")
    assert "host-eu-job-namespace" in role.options["dependsOn"]


def test_declared_objects_are_the_rendered_ones(mixed_plan: PlanResult) -> None:
    """What the component declares, field by field, is exactly what render/manifests.py describes, and the pod
    template's checksum is the digest of the config.toml the Secret really holds (tokens and all)."""
    spec = spec_of(K8S_MIXED)
    for host, declared in report.manifests(mixed_plan).items():
        (secret,) = [r for r in of_type(mixed_plan, "kubernetes:core/v1:Secret") if r.name == f"host-{host}-config"]
        config = reveal(secret.inputs)["stringData"][manifests.CONFIG_KEY]
        assert "glrt-mock-" in config
        expected = objects(spec, host, checksum=config_toml.checksum(config))
        for obj in expected:
            if obj["kind"] == "Secret":
                obj["stringData"] = {manifests.CONFIG_KEY: "[secret]", manifests.SYSTEM_ID_KEY: "[secret]"}
        by_name = sorted(expected, key=lambda o: (manifests.APPLY_ORDER.index(o["kind"]), o["metadata"]["name"]))
        assert declared == by_name, host


def test_a_rollout_keeps_the_manager_s_identity_in_gitlab(plan: Plan) -> None:
    """Every pod of the Deployment reads the same `.runner_system_id` (s_ + 12 letters or digits, which gitlab-runner
    takes as it is), derived from stack and host: a rollout is not a new manager."""
    result = plan(K8S_FLEET)
    ids = {}
    for res in of_type(result, "kubernetes:core/v1:Secret"):
        data = reveal(res.inputs["stringData"])
        if "config.toml" in data:
            ids[res.inputs["metadata"]["name"]] = data[".runner_system_id"]
    assert len(ids) == 2 and len(set(ids.values())) == 2
    assert all(re.fullmatch(r"s_[0-9a-zA-Z]{12}", v) for v in ids.values())
    spec = spec_of(K8S_FLEET)
    assert sorted(ids.values()) == sorted(manifests.system_id(m) for m in spec.managers), "derived, not random"
    (deployment, *_) = of_type(result, "kubernetes:apps/v1:Deployment")
    mounts = deployment.inputs["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
    assert {
        "name": "config",
        "mountPath": "/home/gitlab-runner/.gitlab-runner/.runner_system_id",
        "subPath": ".runner_system_id",
        "readOnly": True,
    } in mounts


def _replicated(count: object) -> dict[str, Any]:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["eu"]["kubernetes"]["replicas"] = count
    return values


def test_a_host_with_three_managers_plans_each_by_a_descriptive_name(plan: Plan, tmp_path: Path) -> None:
    """Three Deployments and a budget, named for what they are, validated as declared, and a config Secret that
    carries one system id per manager; the other host is untouched."""
    result = plan(_replicated(3))
    names = sorted(r.name for r in of_type(result, "kubernetes:apps/v1:Deployment"))
    assert names == ["host-eu-manager", "host-eu-manager-1", "host-eu-manager-2", "host-us-manager"]
    budget = named(result, "host-eu-manager-disruption-budget", "kubernetes:policy/v1:PodDisruptionBudget")
    assert set(budget.options["dependsOn"]) >= {"host-eu-manager", "host-eu-manager-1", "host-eu-manager-2"}
    for name in names[:3]:
        deployment = named(result, name, "kubernetes:apps/v1:Deployment")
        assert deployment.options["customTimeouts"]["delete"], "each one may drain as long as a lone manager"
    for obj in report.manifests(result)["eu"]:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
    (secret,) = [r for r in of_type(result, "kubernetes:core/v1:Secret") if r.name == "host-eu-config"]
    data = reveal(secret.inputs)["stringData"]
    ids = [data[k] for k in (".runner_system_id", ".runner_system_id.1", ".runner_system_id.2")]
    assert len(set(ids)) == 3 and all(re.fullmatch(r"s_[0-9a-zA-Z]{12}", i) for i in ids)
    report.write(result, tmp_path)
    kinds = [o["kind"] for o in yaml.safe_load_all((tmp_path / "hosts" / "eu" / "manifests.yaml").read_text())]
    assert kinds.count("Deployment") == 3 and kinds.count("PodDisruptionBudget") == 1
    assert kinds.index("PodDisruptionBudget") > kinds.index("Deployment")
    assert len(of_type(result, "kubernetes:policy/v1:PodDisruptionBudget")) == 1, "a lone manager gets none"


def test_a_config_change_rolls_every_manager_of_the_host(plan: Plan) -> None:
    changed = _replicated(2)
    before = _checksums(plan(changed))
    changed["runners"]["eu-tests"]["limit"] = 3
    after = _checksums(plan(changed))
    assert before["gitlab-runner-eu"] == before["gitlab-runner-eu-1"], "one config.toml for all"
    assert after["gitlab-runner-eu"] != before["gitlab-runner-eu"]
    assert after["gitlab-runner-eu-1"] != before["gitlab-runner-eu-1"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (0, "must be >= 1 (1 is one manager, as without the key), found 0"),
        (-1, "must be >= 1"),
        ("2", "expected a whole number >= 1, found"),
        (10**30, "must be <= 10"),
        (11, "must be <= 10 (each replica is a manager polling GitLab; add hosts instead), found 11"),
        (True, "expected a whole number >= 1, found"),
        (2.0, "expected a whole number >= 1, found"),
    ],
)
def test_hostile_replicas_are_refused_at_their_key(value: object, message: str) -> None:
    from components.spec import SpecError, parse_spec

    with pytest.raises(SpecError) as caught:
        parse_spec(_replicated(value), stack="test", source="stacks/Pulumi.test.yaml")
    (problem,) = caught.value.problems
    assert problem.startswith("hosts.eu.kubernetes.replicas"), problem
    assert message in problem, problem


def test_replicas_is_a_kubernetes_key_only() -> None:
    from components.spec import SpecError, parse_spec

    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["edge-1"]["docker"]["replicas"] = 2
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    assert any(p.startswith("hosts.edge-1.docker.replicas") for p in caught.value.problems), caught.value.problems
