"""render.manifests with `kubernetes.replicas`: several managers of one host, each its own GitLab manager, on
distinct nodes, under a PodDisruptionBudget (pure). Oracles: the API server's schemas (kubernetes-validate),
Kubernetes' label-selector semantics (written out below from the API reference, independently of the renderer),
gitlab-runner's own test of a system id file, and the provider's replace paths (reference/provider-semantics.json).
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from components.render import manifests
from tests.fleets import K8S_MIXED
from tests.harness import manager_of, objects, of_kind, rendered, spec_of

ROOT = Path(__file__).resolve().parents[2]
VERSIONS = ["1.30.0", "1.34.0", "1.37.0"]
# gitlab-runner takes a `.runner_system_id` file as it is when it matches this (commands/internal/configfile/
# system_id_state.go, v19.3.0: `^[sr]_[0-9a-zA-Z]{12}$`); anything else, it replaces with a random one.
RUNNER_TAKES = re.compile(r"[sr]_[0-9a-zA-Z]{12}")


def with_replicas(count: Any, host: str = "eu") -> dict[str, Any]:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"][host]["kubernetes"]["replicas"] = count
    return values


def matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """Kubernetes' LabelSelector: every matchLabels pair, and every matchExpressions requirement (In, NotIn,
    Exists, DoesNotExist; NotIn also holds when the key is absent), ANDed."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for req in selector.get("matchExpressions", []):
        key, op, values = req["key"], req["operator"], req.get("values", [])
        present = key in labels
        ok = {
            "In": present and labels.get(key) in values,
            "NotIn": not present or labels[key] not in values,
            "Exists": present,
            "DoesNotExist": not present,
        }[op]
        if not ok:
            return False
    return True


def pod_labels(deployment: dict[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = deployment["spec"]["template"]["metadata"]["labels"]
    return labels


def test_one_replica_is_the_host_as_it_was() -> None:
    """`replicas: 1` (the default) renders exactly what a host without the key renders: one Deployment, no
    budget, no affinity, no replica label, the Secret's one system id under its usual key."""
    unset, one = objects(spec_of(K8S_MIXED), "eu"), objects(spec_of(with_replicas(1)), "eu")
    assert unset == one
    assert [o["kind"] for o in unset].count("Deployment") == 1 and not of_kind(unset, "PodDisruptionBudget")
    (deployment,) = of_kind(unset, "Deployment")
    assert "affinity" not in deployment["spec"]["template"]["spec"]
    assert manifests.REPLICA_LABEL not in pod_labels(deployment)
    manager = manager_of(spec_of(K8S_MIXED), "eu")
    assert manifests.identities(manager) == {manifests.SYSTEM_ID_KEY: manifests.system_id(manager)}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_of_a_three_manager_host_validates(version: str) -> None:
    for obj in objects(spec_of(with_replicas(3)), "eu"):
        kubernetes_validate.validate(obj, version, strict=True)


def test_each_manager_is_its_own_gitlab_manager() -> None:
    manager = manager_of(spec_of(with_replicas(3)), "eu")
    replicas = manifests.replicas(manager)
    assert [r.name for r in replicas] == ["gitlab-runner-eu", "gitlab-runner-eu-1", "gitlab-runner-eu-2"]
    ids = [r.identity for r in replicas]
    assert len(set(ids)) == 3 and all(RUNNER_TAKES.fullmatch(i) for i in ids), ids
    other_host = manager_of(spec_of(with_replicas(3)), "us")
    assert manifests.system_id(other_host) not in ids
    # Each Deployment mounts its own id where gitlab-runner reads it, from the one config Secret.
    data = manifests.config_secret_data("concurrent = 1\n", None, manifests.identities(manager))
    for replica, deployment in zip(
        replicas, of_kind(objects(spec_of(with_replicas(3)), "eu"), "Deployment"), strict=True
    ):
        mounts = deployment["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        (mount,) = [m for m in mounts if m["mountPath"].endswith("/.runner_system_id")]
        assert mount["mountPath"] == f"{manifests.CONFIG_DIR}/.runner_system_id"
        assert data[mount["subPath"]] == replica.identity
        assert re.fullmatch(r"[-._a-zA-Z0-9]+", mount["subPath"]), "a valid Secret key"


def test_no_deployment_claims_another_s_pods() -> None:
    """Overlapping selectors make Deployments fight over pods: each one's selector matches its own pods only."""
    deployments = of_kind(objects(spec_of(with_replicas(4)), "eu"), "Deployment")
    for mine in deployments:
        for theirs in deployments:
            owns = matches(mine["spec"]["selector"], pod_labels(theirs))
            assert owns == (mine is theirs), (mine["metadata"]["name"], theirs["metadata"]["name"])


def test_the_service_its_fence_and_the_budget_cover_every_manager() -> None:
    rendered_objects = objects(spec_of(with_replicas(3)), "eu")
    pods = [pod_labels(d) for d in of_kind(rendered_objects, "Deployment")]
    (service,) = of_kind(rendered_objects, "Service")
    (fence,) = of_kind(rendered_objects, "NetworkPolicy")
    (budget,) = of_kind(rendered_objects, "PodDisruptionBudget")
    for selector in (
        {"matchLabels": service["spec"]["selector"]},
        fence["spec"]["podSelector"],
        budget["spec"]["selector"],
    ):
        assert all(matches(selector, labels) for labels in pods), selector
    # ... and nothing else of the host's namespace: no other object there carries pod labels of a manager.
    assert budget["metadata"]["namespace"] == "runners"


def test_no_two_managers_share_a_node_but_a_successor_may_join_its_predecessor() -> None:
    deployments = of_kind(objects(spec_of(with_replicas(3)), "eu"), "Deployment")
    for mine in deployments:
        anti = mine["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
        # Required: a preferred term lets the scheduler stack every manager on one node.
        assert set(anti) == {"requiredDuringSchedulingIgnoredDuringExecution"}
        (term,) = anti["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        for other in deployments:
            repelled = matches(term["labelSelector"], pod_labels(other))
            # The same Deployment's next pod (maxSurge 1) carries the same labels: it may start on the same node.
            assert repelled == (other is not mine), (mine["metadata"]["name"], other["metadata"]["name"])
        assert mine["spec"]["strategy"]["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}
        assert mine["spec"]["replicas"] == 1


@pytest.mark.parametrize("count", [2, 3, 10])
def test_a_drain_evicts_one_manager_at_a_time(count: int) -> None:
    (budget,) = of_kind(objects(spec_of(with_replicas(count)), "eu"), "PodDisruptionBudget")
    assert budget["apiVersion"] == "policy/v1"
    assert budget["spec"]["minAvailable"] == count - 1 >= 1
    assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


def test_every_manager_loads_the_same_config_and_concurrent_is_each_one_s() -> None:
    """`concurrent` is not split: each replica runs the host's config.toml, so the host runs up to
    replicas x concurrent jobs (12 x 3 here)."""
    assert rendered(spec_of(with_replicas(3)), "eu") == rendered(spec_of(K8S_MIXED), "eu")
    assert "concurrent = 12\n" in rendered(spec_of(with_replicas(3)), "eu")


def test_raising_replicas_never_replaces_the_first_manager() -> None:
    """Going from one manager to three adds Deployments; the first one changes only where the provider updates in
    place (its pod template), never at a path that replaces it (reference/provider-semantics.json)."""
    semantics = json.loads((ROOT / "reference" / "provider-semantics.json").read_text())
    replace_paths = semantics["resources"]["kubernetes:apps/v1:Deployment"]["replaceOnChange"]
    (before,) = of_kind(objects(spec_of(K8S_MIXED), "eu"), "Deployment")
    after = of_kind(objects(spec_of(with_replicas(3)), "eu"), "Deployment")[0]

    def at(obj: dict[str, Any], path: str) -> Any:
        for step in path.split("."):
            obj = obj.get(step, {})
        return obj

    for path in replace_paths:
        assert at(before, path) == at(after, path), path
    assert at(before, "spec.template") != at(after, "spec.template"), "it rolls in place (affinity, replica label)"
