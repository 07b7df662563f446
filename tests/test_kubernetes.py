"""The Kubernetes path: manifests an operator would review, validated by kubernetes-validate (strict)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components import manifests, plan, runner_config
from components.mock_engine import PlanResult, reveal
from components.model import FleetSpec
from tests.conftest import fleet, spec_of

MIXED = fleet(
    hosts={
        "edge-1": {"docker": {"host": "ssh://ci@edge-1.acme.test"}},
        "eu": {
            "kubernetes": {"context": "eu-1", "namespace": "runners", "jobNamespace": "builds"},
            "concurrent": 12,
        },
        "us": {"kubernetes": {"context": "us-1", "namespace": "runners"}},
    },
    runners={
        "docker-images": {"host": "edge-1", "scope": {"group": "acme"}, "tags": ["buildkit"], "buildkit": True},
        "eu-images": {
            "host": "eu",
            "scope": {"group": "acme/platform"},
            "tags": ["buildkit", "eu"],
            "buildkit": True,
            "maximumTimeout": 10800,
        },
        "eu-tests": {"host": "eu", "scope": {"project": 77}, "tags": ["eu", "tests"], "maximumTimeout": 1800},
        "us-tests": {"host": "us", "scope": {"instance": True}, "tags": ["us"]},
    },
)
VERSIONS = ["1.30.0", "1.34.0", "1.37.0"]


def _objects(spec: FleetSpec, host: str) -> list[dict[str, Any]]:
    return manifests.all_objects(spec, host, runner_config.render_placeholder(spec, host), "sha256:" + "0" * 64)


def _kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


@pytest.fixture(scope="module")
def mixed_plan() -> PlanResult:
    import tempfile

    from components import mock_engine
    from tests.conftest import write_stack

    with tempfile.TemporaryDirectory() as tmp:
        return mock_engine.run(mock_engine.read_stack_file(write_stack(Path(tmp), MIXED)))


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
    (secret,) = _kind(objects, "Secret")
    assert secret["stringData"] == {"config.toml": "[secret]"}
    assert "glrt-" not in text and "token =" not in text
    assert not _kind(objects, "ConfigMap")
    assert [o["kind"] for o in objects].count("Namespace") == 2
    assert not (tmp_path / "hosts" / "edge-1" / "manifests.yaml").exists()


def test_namespaces_carry_pod_security_levels() -> None:
    spec = spec_of(MIXED)
    eu = {o["metadata"]["name"]: o["metadata"]["labels"] for o in _kind(_objects(spec, "eu"), "Namespace")}
    assert eu["runners"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert eu["builds"]["pod-security.kubernetes.io/enforce"] == "privileged", "BuildKit runs unconfined there"
    us = {o["metadata"]["name"]: o["metadata"]["labels"] for o in _kind(_objects(spec, "us"), "Namespace")}
    assert us["runners"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert us["runners-jobs"]["pod-security.kubernetes.io/enforce"] == "baseline", "no BuildKit: no privileged"


def test_rbac_is_the_executor_minimum_namespaced() -> None:
    objects = _objects(spec_of(MIXED), "eu")
    (role,) = _kind(objects, "Role")
    (binding,) = _kind(objects, "RoleBinding")
    assert not _kind(objects, "ClusterRole") and not _kind(objects, "ClusterRoleBinding")
    assert role["metadata"]["namespace"] == "builds" and binding["metadata"]["namespace"] == "builds"
    rules = {(tuple(r["apiGroups"]), r["resources"][0]): r["verbs"] for r in role["rules"]}
    assert rules == {
        (("",), "events"): ["list", "watch"],
        (("",), "pods"): ["create", "delete", "get", "list", "watch"],
        (("",), "pods/attach"): ["create", "delete", "get", "patch"],
        (("",), "pods/exec"): ["create", "delete", "get", "patch"],
        (("",), "pods/log"): ["get", "list"],
        (("",), "secrets"): ["create", "delete", "get", "update"],
        (("",), "serviceaccounts"): ["get"],
        (("",), "services"): ["create", "get"],
    }
    for rule in role["rules"]:
        assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"]
        assert len(rule["resources"]) == 1
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "gitlab-runner-eu", "namespace": "runners"}]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "gitlab-runner-eu"}


def test_manager_is_hardened_and_drains() -> None:
    (deployment,) = _kind(_objects(spec_of(MIXED), "eu"), "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ctx = container["securityContext"]
    assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] != 0
    assert ctx["allowPrivilegeEscalation"] is False and ctx["privileged"] is False
    assert ctx["capabilities"] == {"drop": ["ALL"]}
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"} and ctx["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["image"] == "gitlab/gitlab-runner:alpine-v19.3.0"
    assert pod["terminationGracePeriodSeconds"] >= 10800, "covers the longest job on this host"
    assert container["command"][:3] == ["/usr/bin/dumb-init", "--rewrite", "15:3"], "SIGTERM becomes SIGQUIT"
    assert deployment["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
    assert container["readinessProbe"]["httpGet"] == {"path": "/health/ready", "port": "metrics"}
    assert "exec" not in container["livenessProbe"], "no gitlab-runner verify: probes never call GitLab"
    assert container["resources"]["requests"] and container["resources"]["limits"]
    writable = {m["mountPath"] for m in container["volumeMounts"] if not m.get("readOnly")}
    assert manifests.CONFIG_DIR in writable, "gitlab-runner writes .runner_system_id next to config.toml"
    (config_volume,) = [v for v in pod["volumes"] if v["name"] == "config"]
    assert config_volume["secret"]["secretName"] == "gitlab-runner-eu-config"


def test_metrics_service() -> None:
    (service,) = _kind(_objects(spec_of(MIXED), "eu"), "Service")
    assert service["spec"]["ports"][0]["port"] == 9252
    (deployment,) = _kind(_objects(spec_of(MIXED), "eu"), "Deployment")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def _checksums(result: PlanResult) -> dict[str, str]:
    out = {}
    for res in result.of_type("kubernetes:apps/v1:Deployment"):
        inputs = reveal(res.inputs)
        out[inputs["metadata"]["name"]] = inputs["spec"]["template"]["metadata"]["annotations"][
            manifests.CHECKSUM_ANNOTATION
        ]
    return out


def test_config_change_rolls_only_its_manager(plan_values: Callable[..., PlanResult], mixed_plan: PlanResult) -> None:
    changed = copy.deepcopy(MIXED)
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
    import tomllib

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


def test_buildkit_jobs_sharing_the_manager_namespace_are_warned_about() -> None:
    values = copy.deepcopy(MIXED)
    values["hosts"]["eu"]["kubernetes"]["jobNamespace"] = "runners"
    spec = spec_of(values)
    assert any(w.startswith("hosts.eu.kubernetes.jobNamespace:") for w in spec.warnings)
    (namespace,) = _kind(_objects(spec, "eu"), "Namespace")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"


def test_a_namespace_belongs_to_one_host_per_cluster() -> None:
    values = copy.deepcopy(MIXED)
    values["hosts"]["us"]["kubernetes"] = {"context": "eu-1", "namespace": "builds"}
    from components.spec import SpecError

    with pytest.raises(SpecError, match=r"hosts\.us\.kubernetes\.namespace: namespace 'builds' is already declared"):
        spec_of(values)


def test_host_keys_become_dns_names() -> None:
    values = copy.deepcopy(MIXED)
    values["hosts"]["EU_Main"] = values["hosts"].pop("eu")
    for runner in values["runners"].values():
        if runner["host"] == "eu":
            runner["host"] = "EU_Main"
    objects = _objects(spec_of(values), "EU_Main")
    for obj in objects:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
    (deployment,) = _kind(objects, "Deployment")
    assert deployment["metadata"]["name"] == "gitlab-runner-eu-main"


def test_kubeconfig_contents_stay_secret(plan_values: Callable[..., PlanResult]) -> None:
    values = copy.deepcopy(MIXED)
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


def test_fallback_host_manifests_validate_on_a_1_29_cluster() -> None:
    from tests.test_runner_config import K8S_FLEET

    spec = spec_of(K8S_FLEET)
    for obj in _objects(spec, "legacy"):
        kubernetes_validate.validate(obj, "1.29.0", strict=True)
    assert "app_armor_profile" not in runner_config.render_placeholder(spec, "legacy")
