"""Prometheus: the alert rules parse (PromQL with a real parser, the rules file format by its schema), the failed-jobs
rule names only failure reasons gitlab-runner really reports, and a Kubernetes host with `monitoring` gets a
ServiceMonitor and a PrometheusRule with the given labels, and its NetworkPolicy admits the monitoring namespace."""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import jsonschema
import kubernetes_validate
import promql_parser
import pytest
import yaml

from components.domain import versions
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
# Every JobFailureReason gitlab-runner v19.3.0 knows, transcribed from its source (tag v19.3.0, common/network.go,
# `allFailureReasons`); network/trace.go `setFailure` labels gitlab_runner_failed_jobs_total with exactly these
# (an empty reason counted as script_failure).
UPSTREAM_FAILURE_REASONS = {
    "script_failure",
    "runner_system_failure",
    "job_execution_timeout",
    "image_pull_failure",
    "unknown_failure",
    "runner_configuration_error",
    "runner_external_dependency_failure",
    "runner_interrupted",
    "job_canceled",
}
# The job's own outcomes, by upstream's own account (common/build.go): its script failed, it ran past its
# timeout, or someone cancelled it. An alert on the runner's health must never count them.
THE_JOB_S_OWN = {"script_failure", "job_execution_timeout", "job_canceled"}
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


def _selectors(node: Any) -> Iterator[Any]:
    """Every vector selector of a parsed PromQL expression, wherever it sits in the tree."""
    if hasattr(node, "matchers") and hasattr(node, "offset"):
        yield node
    for attribute in ("lhs", "rhs", "expr", "vector_selector"):
        if (child := getattr(node, attribute, None)) is not None:
            yield from _selectors(child)
    for arg in getattr(node, "args", None) or ():
        yield from _selectors(arg)


def _failure_reasons(expr: str) -> list[str]:
    """The failure_reason values a rule's expression names, from the parsed selectors (alternations split)."""
    names: list[str] = []
    for selector in _selectors(promql_parser.parse(expr)):
        for matcher in selector.matchers.matchers:
            if matcher.name == "failure_reason":
                assert str(matcher.op) in {"MatchOp.Equal", "MatchOp.Re"}, "reasons are named, never excluded"
                assert re.fullmatch(r"[a-z_]+(\|[a-z_]+)*", matcher.value), "plain names, no patterns"
                names += matcher.value.split("|")
    return names


def test_the_failed_jobs_rule_names_only_reasons_the_runner_reports() -> None:
    document = yaml.safe_load(monitoring.rules_file())
    rules = {rule["alert"]: rule for group in document["groups"] for rule in group["rules"]}
    named = _failure_reasons(rules["GitLabRunnerJobsFailing"]["expr"])
    unknown = set(named) - UPSTREAM_FAILURE_REASONS
    assert not unknown, f"not a gitlab-runner v19.3.0 failure reason: {sorted(unknown)}"
    assert len(named) == len(set(named))
    assert {"runner_system_failure", "runner_external_dependency_failure"} <= set(named)
    assert not set(named) & THE_JOB_S_OWN
    for rule in rules.values():
        assert set(_failure_reasons(rule["expr"])) <= UPSTREAM_FAILURE_REASONS, rule["alert"]


def test_the_failure_reason_table_is_the_pinned_runner_s() -> None:
    assert versions.RUNNER_VERSION == "v19.3.0", "a new runner line: re-read its failure reasons, then this test"
    assert set(monitoring.RUNNER_FAILURE_REASONS) == UPSTREAM_FAILURE_REASONS
    assert not {r for r in THE_JOB_S_OWN if monitoring.RUNNER_FAILURE_REASONS[r]}


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
