"""plan.report: what a reviewer reads, read back from the declared resources."""

from __future__ import annotations

import json
from pathlib import Path

from components.plan import report
from components.render import labels, manifests
from tests.conftest import Plan
from tests.fleets import K8S_MIXED
from tests.harness import manager_of, spec_of


def _generation(values: dict[str, object], host: str) -> str:
    return labels.manager_inputs(manager_of(spec_of(values), host)).generation


def test_host_summary_covers_both_executors(plan: Plan) -> None:
    summary = report.hosts_summary(plan(K8S_MIXED))
    assert summary == {
        "edge-1": {
            "executor": "docker",
            "manager": f"container gitlab-runner-test-edge-1-{_generation(K8S_MIXED, 'edge-1')}",
            "concurrent": 4,
            "drainSeconds": 3660,
            "runners": {"test-docker-images": {"buildkit": True}},
        },
        "eu": {
            "executor": "kubernetes",
            "manager": "deployment runners/gitlab-runner-eu",
            "concurrent": 12,
            "drainSeconds": 10800 + 60,
            "runners": {"test-eu-images": {"buildkit": True}, "test-eu-tests": {"buildkit": False}},
        },
        "us": {
            "executor": "kubernetes",
            "manager": "deployment runners/gitlab-runner-us",
            "concurrent": 4,
            "drainSeconds": 3660,
            "runners": {"test-us-tests": {"buildkit": False}},
        },
    }


def test_manifests_are_listed_in_apply_order(plan: Plan) -> None:
    for host, objects in report.manifests(plan(K8S_MIXED)).items():
        kinds = [o["kind"] for o in objects]
        assert kinds == sorted(kinds, key=manifests.APPLY_ORDER.index), host
        # no monitoring, and one manager per host (a PodDisruptionBudget comes with kubernetes.replicas >= 2)
        assert set(kinds) == set(manifests.APPLY_ORDER) - {"ServiceMonitor", "PrometheusRule", "PodDisruptionBudget"}, (
            host
        )
        assert list(objects[0])[:3] == ["apiVersion", "kind", "metadata"]


def test_plan_json_lists_every_resource_with_its_options(plan: Plan, tmp_path: Path) -> None:
    result = plan(K8S_MIXED)
    report.write(result, tmp_path)
    document = json.loads((tmp_path / "plan.json").read_text())
    assert document["project"] == "runner-fleet" and document["stack"] == "test"
    assert len(document["resources"]) == len(result.resources)
    for res in document["resources"]:
        assert {"type", "name", "urn", "parent", "custom", "inputs", "options"} <= set(res)
        assert {"protect", "provider", "dependsOn"} <= set(res["options"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")) == [
        "hosts/edge-1/config.toml",
        "hosts/eu/config.toml",
        "hosts/eu/manifests.yaml",
        "hosts/us/config.toml",
        "hosts/us/manifests.yaml",
        "imports.sh",
        "plan.json",
        "tree.txt",
    ]


def test_the_tree_shows_every_resource_under_its_parent(plan: Plan) -> None:
    result = plan(K8S_MIXED)
    lines = report.tree(result).splitlines()
    assert len(lines) == len(result.resources)
    assert lines[0] == "+ runner-fleet:fleet:RunnerFleet  fleet"
    assert "    + kubernetes:apps/v1:Deployment  host-eu-manager" in lines
