"""render.manifests: the Kubernetes objects of a manager, as an operator reviews them (pure)."""

from __future__ import annotations

import copy
import re

import kubernetes_validate
from hypothesis import given, settings
from hypothesis import strategies as st

from components.render import manifests
from tests.fleets import K8S_FLEET, K8S_MIXED
from tests.harness import objects, of_kind, rendered, spec_of


def test_namespaces_carry_pod_security_levels() -> None:
    spec = spec_of(K8S_MIXED)
    eu = {o["metadata"]["name"]: o["metadata"]["labels"] for o in of_kind(objects(spec, "eu"), "Namespace")}
    assert eu["runners"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert eu["builds"]["pod-security.kubernetes.io/enforce"] == "privileged", "BuildKit runs unconfined there"
    us = {o["metadata"]["name"]: o["metadata"]["labels"] for o in of_kind(objects(spec, "us"), "Namespace")}
    assert us["runners"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert us["runners-jobs"]["pod-security.kubernetes.io/enforce"] == "baseline", "no BuildKit: no privileged"


def test_rbac_is_the_executor_minimum_namespaced() -> None:
    rendered_objects = objects(spec_of(K8S_MIXED), "eu")
    (role,) = of_kind(rendered_objects, "Role")
    (binding,) = of_kind(rendered_objects, "RoleBinding")
    assert not of_kind(rendered_objects, "ClusterRole") and not of_kind(rendered_objects, "ClusterRoleBinding")
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
    (deployment,) = of_kind(objects(spec_of(K8S_MIXED), "eu"), "Deployment")
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
    (service,) = of_kind(objects(spec_of(K8S_MIXED), "eu"), "Service")
    assert service["spec"]["ports"][0]["port"] == 9252
    (deployment,) = of_kind(objects(spec_of(K8S_MIXED), "eu"), "Deployment")
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


def test_host_keys_become_dns_names() -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["EU_Main"] = values["hosts"].pop("eu")
    for runner in values["runners"].values():
        if runner["host"] == "eu":
            runner["host"] = "EU_Main"
    rendered_objects = objects(spec_of(values), "EU_Main")
    for obj in rendered_objects:
        kubernetes_validate.validate(obj, "1.30.0", strict=True)
    (deployment,) = of_kind(rendered_objects, "Deployment")
    assert deployment["metadata"]["name"] == "gitlab-runner-eu-main"


def test_fallback_host_manifests_validate_on_a_1_29_cluster() -> None:
    spec = spec_of(K8S_FLEET)
    for obj in objects(spec, "legacy"):
        kubernetes_validate.validate(obj, "1.29.0", strict=True)
    assert "app_armor_profile" not in rendered(spec, "legacy")


STACK_NAMES = ["a" * 100, "-x-", "_", ".", "1.2", "UPPER_case.", "--", "prod", "dev.eu-1_blue", "9" * 64]


@settings(max_examples=150, derandomize=True, database=None, deadline=None)
@given(stack=st.one_of(st.sampled_from(STACK_NAMES), st.from_regex(r"[A-Za-z0-9_.-]{1,100}", fullmatch=True)))
def test_every_stack_name_pulumi_accepts_gives_valid_labels(stack: str) -> None:
    spec = spec_of(K8S_MIXED, stack=stack)
    rendered_objects = objects(spec, "eu")
    kubernetes_validate.validate(rendered_objects[0], "1.30.0", strict=True)  # the API server's own check, once
    for obj in rendered_objects:
        for value in obj["metadata"]["labels"].values():
            assert re.fullmatch(r"([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?", value), (stack, value)
    assert manifests.label_value(stack) != manifests.label_value(stack + "-"), "two names never clean to one"
