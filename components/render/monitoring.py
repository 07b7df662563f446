"""Prometheus for the managers: the ServiceMonitor of a Kubernetes manager, and the alert rules (a PrometheusRule
on Kubernetes, a plain rules file for Docker users: `monitoring/gitlab-runner.rules.yml`). Pure, no Pulumi.

The metrics are gitlab-runner's own (`listen_address` :9252): `gitlab_runner_jobs` (running jobs),
`gitlab_runner_concurrent` (the manager's limit), `gitlab_runner_failed_jobs_total` (by failure reason),
`gitlab_runner_errors_total`, and Prometheus' `up` for the scrape itself. Every expression is checked with a real
PromQL parser in the tests, and the rules against the rules file format.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.domain.model import ManagerSpec
from components.domain.targets import KubernetesTarget
from components.render import manifests

JOB = "gitlab-runner"
"""The `job` label of a manager's metrics: the ServiceMonitor sets it (a relabeling), and a Docker user's scrape
config names its job the same."""

RUNNER_FAILURE_REASONS: dict[str, bool] = {
    "script_failure": False,  # the job's script exited non-zero (also what an empty reason is counted as)
    "runner_system_failure": True,  # the manager, the executor or the host broke
    "job_execution_timeout": False,  # the job ran past its own timeout
    # 19.3's ClassifyImagePullFailure moves network errors to runner_external_dependency_failure and "not found" /
    # "access denied" to runner_configuration_error, so what is left here is the engine's own pull failing.
    "image_pull_failure": True,
    # Step-runner errors of unknown kind; upstream counts step-runner internal errors as the script's because a job
    # can provoke them, so an unknown is not evidence against the host.
    "unknown_failure": False,
    # In 19.3 mostly the job's: an image that does not exist or is denied, a pull policy the runner does not allow,
    # GIT_CLONE_PATH without custom_build_dir. runner-fleet's own config.toml is schema-checked before it ships.
    "runner_configuration_error": False,
    "runner_external_dependency_failure": True,  # DNS, TCP, TLS to registries, clones, secret providers
    # The manager was stopped while a job ran: runner-fleet promises a drain before any manager stops.
    "runner_interrupted": True,
    "job_canceled": False,  # someone cancelled the job
}
"""Every value gitlab-runner gives the `failure_reason` label of `gitlab_runner_failed_jobs_total`, and whether it
is the fleet's to fix (True) or the job's or its author's (False). Source: gitlab-runner v19.3.0 (the pinned
`versions.RUNNER_VERSION`), `common/network.go` `allFailureReasons`; `network/trace.go` `setFailure` records the
build's own reason unmapped (an empty one as `script_failure`), `helpers/prometheus/failures_collector.go` labels
the counter with it. Check this table when the runner line moves."""

FLEET_FAILURE_REASONS: tuple[str, ...] = tuple(name for name, fleets in RUNNER_FAILURE_REASONS.items() if fleets)
"""The reasons `GitLabRunnerJobsFailing` alerts on."""

ALERTS: tuple[dict[str, Any], ...] = (
    {
        "alert": "GitLabRunnerManagerDown",
        # A manager that is gone (no target at all) is down too: `up` is then absent, not 0.
        "expr": f'up{{job="{JOB}"}} == 0 or absent(up{{job="{JOB}"}})',
        "for": "5m",
        "labels": {"severity": "critical"},
        "annotations": {
            "summary": "gitlab-runner manager {{ $labels.instance }} is down",
            "description": "Prometheus cannot scrape the manager: no job of its runners starts. Check the container "
            "or pod (docker ps / kubectl get pods), then `python -m components.ops.verify`.",
        },
    },
    {
        "alert": "GitLabRunnerJobsFailing",
        # Only the reasons that are the fleet's to fix (RUNNER_FAILURE_REASONS), each by its exact name.
        "expr": f'sum by (instance, failure_reason) (increase(gitlab_runner_failed_jobs_total{{job="{JOB}",'
        f'failure_reason=~"{"|".join(FLEET_FAILURE_REASONS)}"}}[30m])) >= 3',
        "for": "5m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "jobs on {{ $labels.instance }} fail for the runner's reasons ({{ $labels.failure_reason }})",
            "description": "Not the scripts' fault: runner_system_failure and image_pull_failure point at the "
            "manager or the host (its log, disk, doctor), runner_external_dependency_failure at what the host "
            "reaches (DNS, proxy, registry mirror), runner_interrupted at a manager stopped before its jobs "
            "drained (README: Operating the fleet).",
        },
    },
    {
        "alert": "GitLabRunnerConcurrentSaturated",
        "expr": f'sum by (instance) (gitlab_runner_jobs{{job="{JOB}"}}) '
        f'/ max by (instance) (gitlab_runner_concurrent{{job="{JOB}"}}) >= 0.9',
        "for": "30m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "{{ $labels.instance }} runs at 90% or more of its concurrent limit",
            "description": "Jobs queue for this manager: raise hosts.<h>.concurrent, or add a host.",
        },
    },
    {
        "alert": "GitLabRunnerRequestErrors",
        "expr": f'sum by (instance) (rate(gitlab_runner_errors_total{{job="{JOB}",level="error"}}[10m])) > 0.1',
        "for": "15m",
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": "{{ $labels.instance }} logs errors (GitLab unreachable, token refused or expired?)",
            "description": "An expired or revoked runner token shows here first: check the manager's log and "
            "`python -m components.ops.verify`; rotate with tokenRotationDays.",
        },
    },
)


def rule_groups() -> list[dict[str, Any]]:
    """The alert rules as Prometheus rule groups (the same for Kubernetes and Docker)."""
    return [{"name": "gitlab-runner", "rules": [dict(alert) for alert in ALERTS]}]


def _metadata(manager: ManagerSpec, target: KubernetesTarget, suffix: str) -> dict[str, Any]:
    """In the manager's namespace, with the manager's labels and the ones the Prometheus resource selects on."""
    selected = dict(target.monitoring.service_monitor_labels) if target.monitoring else {}
    return {
        "name": f"{manifests.object_name(manager.host.key)}-{suffix}",
        "namespace": target.namespace,
        "labels": selected | manifests.labels(manager),  # runner-fleet's own labels always win
    }


def service_monitor(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """Scrape the manager's metrics Service on its `metrics` port, as job `gitlab-runner`."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": _metadata(manager, target, "metrics"),
        "spec": {
            "selector": {"matchLabels": manifests.selector(manager)},
            "namespaceSelector": {"matchNames": [target.namespace]},
            "endpoints": [
                {
                    "port": "metrics",
                    "path": "/metrics",
                    "interval": "30s",
                    "relabelings": [{"targetLabel": "job", "replacement": JOB, "action": "replace"}],
                }
            ],
        },
    }


def prometheus_rule(manager: ManagerSpec, target: KubernetesTarget) -> dict[str, Any]:
    """The alert rules, where the Prometheus Operator picks them up (same labels as the ServiceMonitor)."""
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": _metadata(manager, target, "alerts"),
        "spec": {"groups": rule_groups()},
    }


def rules_file() -> str:
    """The rules as a Prometheus rules file (`rule_files:`), for Docker managers scraped as job `gitlab-runner`."""
    header = (
        "# gitlab-runner alert rules for Prometheus (Docker managers; Kubernetes gets them as a PrometheusRule).\n"
        '# Generated by `python -m components.render.monitoring`; scrape each manager as job "gitlab-runner".\n'
    )
    return header + yaml.safe_dump({"groups": rule_groups()}, sort_keys=False, width=120)


if __name__ == "__main__":
    print(rules_file(), end="")
