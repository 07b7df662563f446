"""Prometheus: the alert rules parse (PromQL with a real parser, the rules file format by its schema), and a
Kubernetes host with `monitoring` gets a ServiceMonitor and a PrometheusRule with the given labels, and its
NetworkPolicy admits the monitoring namespace."""

from __future__ import annotations

import copy
import re

import jsonschema
import kubernetes_validate
import promql_parser
import pytest
import yaml

from components.render import monitoring
from components.spec import SpecError, parse_spec
from tests.conftest import ROOT, Plan
from tests.fleets import K8S_FLEET
from tests.harness import of_type

DURATION = r"^((\d+y)?(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?(\d+ms)?|0)$"
# Prometheus' rules file format (docs: configuration/recording_rules, alerting_rules), closed objects.
RULES_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["groups"],
    "properties": {
        "groups": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "rules"],
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "interval": {"type": "string", "pattern": DURATION},
                    "rules": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["alert", "expr"],
                            "properties": {
                                "alert": {"type": "string", "pattern": "^[a-zA-Z_][a-zA-Z0-9_]*$"},
                                "expr": {"type": "string"},
                                "for": {"type": "string", "pattern": DURATION},
                                "keep_firing_for": {"type": "string", "pattern": DURATION},
                                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                                "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                            },
                        },
                    },
                },
            },
        }
    },
}
MONITORED = copy.deepcopy(K8S_FLEET)
MONITORED["hosts"]["cluster"]["kubernetes"]["monitoring"] = {
    "namespace": "monitoring",
    "serviceMonitorLabels": {"release": "kube-prometheus-stack"},
}


def test_every_rule_parses_and_the_file_is_a_rules_file() -> None:
    document = yaml.safe_load(monitoring.rules_file())
    jsonschema.validate(document, RULES_SCHEMA)
    alerts = [rule for group in document["groups"] for rule in group["rules"]]
    assert {r["alert"] for r in alerts} >= {
        "GitLabRunnerManagerDown",
        "GitLabRunnerJobsFailing",
        "GitLabRunnerConcurrentSaturated",
    }
    for rule in alerts:
        promql_parser.parse(rule["expr"])  # raises on a syntax error
        assert 'job="gitlab-runner"' in rule["expr"]
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(x[5m])")  # the parser does refuse broken PromQL


def test_the_shipped_docker_rules_file_is_the_generated_one() -> None:
    assert (ROOT / "monitoring" / "gitlab-runner.rules.yml").read_text() == monitoring.rules_file()


def test_a_monitored_kubernetes_host_gets_its_service_monitor_rules_and_fence(plan: Plan) -> None:
    result = plan(MONITORED)
    custom = {r.inputs["kind"]: r for r in of_type(result, "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")}
    custom |= {r.inputs["kind"]: r for r in of_type(result, "kubernetes:monitoring.coreos.com/v1:PrometheusRule")}
    assert set(custom) == {"ServiceMonitor", "PrometheusRule"}
    monitor = custom["ServiceMonitor"].inputs
    assert monitor["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert monitor["metadata"]["namespace"] == "ci"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    (service,) = [s for s in of_type(result, "kubernetes:core/v1:Service") if s.inputs["metadata"]["namespace"] == "ci"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service.inputs["spec"]["selector"].items()
    assert {p["name"] for p in service.inputs["spec"]["ports"]} >= {"metrics"}
    rules = custom["PrometheusRule"].inputs["spec"]
    jsonschema.validate({"groups": rules["groups"]}, RULES_SCHEMA)
    (fence,) = [n for n in of_type(result, "kubernetes:networking.k8s.io/v1:NetworkPolicy") if "cluster" in n.name]
    peers = fence.inputs["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}} in peers
    kubernetes_validate.validate(
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", **fence.inputs}, "1.30.0", strict=True
    )
    for obj in (monitor, custom["PrometheusRule"].inputs):
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", obj["metadata"]["name"])


@pytest.mark.parametrize(
    ("monitoring", "message"),
    [
        ({"namespace": "ci-jobs"}, "the job namespace never reaches"),
        ({"namespace": "Monitoring"}, "hosts.cluster.kubernetes.monitoring.namespace"),
        ({"serviceMonitorLabels": {"release": "x"}}, "hosts.cluster.kubernetes.monitoring.namespace: is required"),
        ({"namespace": "monitoring", "serviceMonitorLabels": {"bad key!": "x"}}, "serviceMonitorLabels.bad key!"),
    ],
)
def test_a_bad_monitoring_section_is_refused(monitoring: dict[str, object], message: str) -> None:
    values = copy.deepcopy(K8S_FLEET)
    values["hosts"]["cluster"]["kubernetes"]["monitoring"] = monitoring
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    assert any(message in p for p in caught.value.problems), caught.value.problems


def test_monitoring_labels_cannot_take_runner_fleet_s_own() -> None:
    values = copy.deepcopy(K8S_FLEET)
    values["hosts"]["cluster"]["kubernetes"]["monitoring"] = {
        "namespace": "monitoring",
        "serviceMonitorLabels": {"runner-fleet.io/host": "other"},
    }
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    assert any(
        "serviceMonitorLabels.runner-fleet.io/host: runner-fleet sets this label" in p for p in caught.value.problems
    )
