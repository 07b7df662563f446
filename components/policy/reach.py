"""Rules about what job containers and pods can reach on the network: the manager's listener, and the guard
of a privileged job namespace. Same contract as `rules.py`: (resource name, what is wrong and what to change).

The manager's listener serves Prometheus metrics and also `/debug/pprof` and `/debug/jobs/list` (every running
job's URL), so it must stay out of jobs' reach while an operator can still scrape it:
- Docker: the manager joins its own network (jobs run on the default bridge or per-build networks, and Docker
  isolates bridge networks from each other) and publishes the listener on the host's loopback only;
- Kubernetes: a NetworkPolicy admits, on the metrics port, only pods of the namespaces named in `metricsFrom`,
  never a job namespace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from components.policy.resources import Declared, Unknown, config_files, plain
from components.render import labels as marks

Finding = tuple[str, str]
CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NETWORK_POLICY = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
ROLE = "kubernetes:rbac.authorization.k8s.io/v1:Role"
NAMESPACE = "kubernetes:core/v1:Namespace"
VAP_BINDING = "kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding"
LOOPBACK = ("127.0.0.1", "::1")
NAME_LABEL = "kubernetes.io/metadata.name"


def _at(value: Any, *path: str) -> Any:
    """`value[path[0]][path[1]]...`, or None where a step is missing, unknown (a preview) or not a map."""
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _docker_labels(res: Declared) -> dict[str, str]:
    return {
        str(x.get("label")): str(x.get("value")) for x in plain(res.inputs.get("labels")) or [] if isinstance(x, dict)
    }


def _job_networks(resources: list[Declared]) -> set[str]:
    return {
        str((entry.get("docker") or {}).get("network_mode"))
        for config in config_files(resources)
        for entry in config.document.get("runners", [])
        if (entry.get("docker") or {}).get("network_mode")
    }


PROVIDER_DEFAULT_MODES = frozenset({"", "bridge", "default"})
"""networkMode values under which the docker provider leaves a container on its networksAdvanced only."""


def _docker_manager(res: Declared, job_networks: set[str]) -> Iterator[str]:
    inputs = plain(res.inputs)
    mode = str(inputs.get("networkMode") or "")
    networks = inputs.get("networksAdvanced")
    if isinstance(networks, Unknown):
        return
    names = {str(n.get("name")) for n in networks or [] if isinstance(n, dict)}
    # `bridge` is the provider's default networkMode (its Check adds it to the inputs, its Read to the outputs),
    # and with networksAdvanced the provider's Create disconnects the container from the default bridge before it
    # joins those networks (terraform-provider-docker resourceDockerContainerCreate). So only another mode (host,
    # container:<x>, a user-defined network) or no networksAdvanced at all puts the manager beside jobs.
    if not names or mode not in PROVIDER_DEFAULT_MODES:
        yield "the manager shares a network with jobs; it joins its own network (networksAdvanced) only"
    if names & job_networks:
        yield f"job containers join the manager's network {sorted(names & job_networks)}"
    if inputs.get("publishAllPorts") is True:
        yield "publishAllPorts exposes the listener on every host interface"
    for port in inputs.get("ports") or []:
        if isinstance(port, dict) and str(port.get("ip", "0.0.0.0")) not in LOOPBACK:
            yield f"port {port.get('internal')} is published on {port.get('ip', '0.0.0.0')}; publish it on 127.0.0.1"


def _job_namespaces(resources: list[Declared]) -> set[str]:
    """Where job pods run: the executor's Role lives there, and config.toml names it."""
    found = {str(plain(r.inputs.get("metadata", {})).get("namespace")) for r in resources if r.type == ROLE}
    for config in config_files(resources):
        for entry in config.document.get("runners", []):
            if (entry.get("kubernetes") or {}).get("namespace"):
                found.add(str(entry["kubernetes"]["namespace"]))
    return found


def _fence_problems(policy: dict[str, Any], job_namespaces: set[str]) -> list[str]:
    spec = _at(policy, "spec") or {}
    problems = []
    if "Ingress" not in (spec.get("policyTypes") or []):
        problems.append("does not restrict ingress")
    for rule in spec.get("ingress") or []:
        if not isinstance(rule, dict):
            continue
        peers = rule.get("from") or []
        if not peers:
            problems.append("admits every source (an ingress rule without `from`)")
        ports = [_at(p, "port") for p in rule.get("ports") or []]
        if ports != [marks.METRICS_PORT] and ports != ["metrics"]:
            problems.append(f"opens ports {ports or 'all'}; only the metrics port {marks.METRICS_PORT}")
        for peer in peers:
            selector = _at(peer, "namespaceSelector") or {}
            names = _at(selector, "matchLabels", NAME_LABEL)
            if (
                not isinstance(peer, dict)
                or set(peer) != {"namespaceSelector"}
                or set(selector) != {"matchLabels"}
                or names is None
            ):
                problems.append(f"admits {peer}; only namespaces named by {NAME_LABEL}")
            elif names in job_namespaces:
                problems.append(f"admits the job namespace {names}")
    return problems


def _kubernetes_manager(res: Declared, policies: list[dict[str, Any]], job_namespaces: set[str]) -> Iterator[str]:
    deployment = plain(res.inputs)
    namespace = _at(deployment, "metadata", "namespace")
    pod_labels = _at(deployment, "spec", "template", "metadata", "labels")
    if not isinstance(pod_labels, dict):
        return  # not known yet (a preview): nothing to check against
    fences = [
        policy
        for policy in policies
        if _at(policy, "metadata", "namespace") == namespace
        and isinstance(selector := _at(policy, "spec", "podSelector", "matchLabels"), dict)
        and selector.items() <= pod_labels.items()
    ]
    if not fences:
        yield "no NetworkPolicy fences the manager's listener; declare one that admits only metricsFrom namespaces"
    for fence in fences:
        for problem in _fence_problems(fence, job_namespaces):
            yield f"NetworkPolicy {_at(fence, 'metadata', 'name')} {problem}"


def listener_out_of_jobs_reach(resources: list[Declared]) -> Iterator[Finding]:
    job_networks, job_namespaces = _job_networks(resources), _job_namespaces(resources)
    policies = [plain(r.inputs) for r in resources if r.type == NETWORK_POLICY]  # read once, not per manager
    for res in resources:
        if res.type == CONTAINER and _docker_labels(res).get(marks.ROLE) == marks.ROLE_MANAGER:
            for problem in _docker_manager(res, job_networks):
                yield res.name, problem
        elif res.type == DEPLOYMENT:
            for problem in _kubernetes_manager(res, policies, job_namespaces):
                yield res.name, problem


def privileged_namespace_unguarded(resources: list[Declared]) -> Iterator[Finding]:
    guarded = {
        _at(plain(r.inputs), "spec", "matchResources", "namespaceSelector", "matchLabels", NAME_LABEL)
        for r in resources
        if r.type == VAP_BINDING
    }
    for res in resources:
        metadata = plain(res.inputs.get("metadata"))
        level = _at(metadata, "labels", "pod-security.kubernetes.io/enforce")
        if res.type == NAMESPACE and level == "privileged" and _at(metadata, "name") not in guarded:
            yield res.name, "a privileged job namespace without the admission guard (clusters < 1.30 have none)"
