"""Where a host's manager runs: a Docker engine or a Kubernetes namespace (part of the model, `model.py`).

Frozen, every default here, nothing read or declared. `HostSpec.target` holds one of these; the executor follows
from the type.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import ClassVar

from components.domain.engine_identity import Cluster, DockerEngine, docker_engine


class Executor(enum.StrEnum):
    """The gitlab-runner executor of a host's manager, decided by where the manager runs."""

    DOCKER = "docker"
    KUBERNETES = "kubernetes"


@dataclass(frozen=True)
class DockerTls:
    """Names of secret config keys that hold the PEM material for a tcp:// Docker engine."""

    ca: str
    """Secret config key holding the CA certificate."""
    cert: str
    """Secret config key holding the client certificate."""
    key: str
    """Secret config key holding the client key."""


@dataclass(frozen=True)
class DockerTarget:
    """A Docker engine that runs the manager container and, through its docker.sock, the jobs."""

    executor: ClassVar[Executor] = Executor.DOCKER

    url: str
    """The engine: ssh://user@host[:port], tcp://host:port or unix:///path."""
    ssh_opts: tuple[str, ...] = ()
    """Extra options for the local `ssh` client (ssh:// only); none by default."""
    cert_path: str | None = None
    """Directory with ca.pem, cert.pem and key.pem on the machine running pulumi (tcp:// only); unset by default."""
    tls: DockerTls | None = None
    """TLS material from secret config keys (tcp:// only); unset by default."""

    @property
    def scheme(self) -> str:
        return self.url.split("://", 1)[0]

    @property
    def engine(self) -> DockerEngine:
        """The engine and machine this URL reaches, however it is spelled (`engine_identity`)."""
        return docker_engine(self.url)


def default_job_namespace(namespace: str) -> str:
    """Job pods need a laxer Pod Security level than the manager's `restricted`, so they live apart by default."""
    return f"{namespace}-jobs"


@dataclass(frozen=True)
class Monitoring:
    """Prometheus Operator scraping of a Kubernetes manager (`hosts.<h>.kubernetes.monitoring`)."""

    namespace: str
    """Where Prometheus runs: its pods may reach the manager's metrics port."""
    service_monitor_labels: tuple[tuple[str, str], ...] = ()
    """Labels of the ServiceMonitor and PrometheusRule, as the Prometheus resource selects them; none by default."""


@dataclass(frozen=True)
class KubernetesTarget:
    """A namespace of a cluster that runs the manager Deployment; its jobs run in `job_namespace`."""

    executor: ClassVar[Executor] = Executor.KUBERNETES

    namespace: str
    """The manager's namespace (Pod Security `restricted`)."""
    job_namespace: str
    """Where job pods run; default `default_job_namespace(namespace)`."""
    context: str | None = None
    """kubeconfig context; default: the kubeconfig's current context."""
    kubeconfig: str | None = None
    """Name of a secret config key holding kubeconfig contents; default: the local kubeconfig."""
    node_selector: tuple[tuple[str, str], ...] = ()
    """Job pods' node selector as sorted (label, value) pairs; none by default."""
    tolerations: tuple[tuple[str, str], ...] = ()
    """Job pods' tolerations as sorted ("key=value", effect) pairs, as config.toml wants them; none by default."""
    apparmor_fallback: bool = False
    """Clusters < 1.30: the AppArmor annotation instead of the appArmorProfile field; off by default."""
    metrics_from: tuple[str, ...] = ()
    """Namespaces whose pods may reach the manager's metrics listener (a NetworkPolicy); none by default
    (`kubectl port-forward` still works: it does not pass through the pod network)."""
    monitoring: Monitoring | None = None
    """A ServiceMonitor and alert rules for the Prometheus Operator; none by default."""
    replicas: int = 1
    """Managers of this host, each a Deployment with its own GitLab system id, on distinct nodes, under a
    PodDisruptionBudget; 1 by default (one Deployment, no budget). `concurrent` (and each runner's `limit`) is
    every manager's own: the host runs up to replicas x concurrent jobs."""

    @property
    def cluster(self) -> Cluster:
        """The cluster this host may be on (`engine_identity`): its kubeconfig and context."""
        return Cluster(self.kubeconfig, self.context)

    @property
    def scrapers(self) -> tuple[str, ...]:
        """Every namespace whose pods may reach the metrics port: metricsFrom and the monitoring namespace."""
        extra = (self.monitoring.namespace,) if self.monitoring else ()
        return tuple(dict.fromkeys(self.metrics_from + extra))


Target = DockerTarget | KubernetesTarget
"""Where a host's manager runs: the one typed choice between the two executors."""
