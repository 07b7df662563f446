"""Checks that need the whole fleet: namespace ownership, secret references, and warnings about odd but legal setups."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from components.host_paths import overlap
from components.model import HostSpec, RunnerSpec, VariableSpec
from components.spec import keys
from components.spec.problems import Problems, looks_secret
from components.targets import DockerTarget, KubernetesTarget


def check_namespaces(p: Problems, hosts: Iterable[HostSpec | None]) -> None:
    """A namespace is declared by exactly one host of a cluster (context)."""
    owners: dict[tuple[str | None, str], str] = {}
    for host in hosts:
        if host is None or not isinstance(host.target, KubernetesTarget):
            continue
        target = host.target
        for key, ns in (("namespace", target.namespace), ("jobNamespace", target.job_namespace)):
            owner = owners.get((target.context, ns))
            if owner is not None and owner != host.key:
                p.add(
                    f"hosts.{host.key}.kubernetes.{key}",
                    f"namespace {ns!r} is already declared by host {owner!r} in the same context",
                )
            owners[(target.context, ns)] = host.key
    clusters = _kubernetes(hosts)
    job_namespaces = {(target.context, target.job_namespace): key for key, target in clusters}
    for key, target in clusters:
        scrapers = [(f"metricsFrom[{i}]", ns) for i, ns in enumerate(target.metrics_from)]
        scrapers += [("monitoring.namespace", target.monitoring.namespace)] if target.monitoring else []
        for where, ns in scrapers:
            jobs_of = job_namespaces.get((target.context, ns))
            if jobs_of is not None and jobs_of != key:
                p.add(
                    f"hosts.{key}.kubernetes.{where}",
                    f"{ns!r} is host {jobs_of!r}'s job namespace: jobs never reach a manager's listener",
                )


def _kubernetes(hosts: Iterable[HostSpec | None]) -> list[tuple[str, KubernetesTarget]]:
    return [(h.key, h.target) for h in hosts if h is not None and isinstance(h.target, KubernetesTarget)]


def check_metrics_ports(p: Problems, hosts: Iterable[HostSpec | None]) -> None:
    """Managers on one Docker engine publish their listeners on distinct host ports."""
    taken: dict[tuple[str, int], str] = {}
    for host in hosts:
        if host is None or not isinstance(host.target, DockerTarget):
            continue
        where = (host.target.url, host.target.metrics_port)
        if where in taken:
            p.add(
                f"hosts.{host.key}.docker.metricsPort",
                f"port {host.target.metrics_port} on {host.target.url} is already host {taken[where]!r}'s; "
                "set another metricsPort",
            )
        taken.setdefault(where, host.key)


def _host_secret_refs(host: HostSpec) -> list[tuple[str, str]]:
    """(key path, config key) of every secret a host names: Docker TLS material, kubeconfig contents."""
    path, target = f"hosts.{host.key}", host.target
    if isinstance(target, DockerTarget) and target.tls:
        tls = target.tls
        return [(f"{path}.docker.tls.{k.name}", getattr(tls, k.field or k.name)) for k in keys.TLS.keys]
    if isinstance(target, KubernetesTarget) and target.kubeconfig:
        return [(f"{path}.kubernetes.kubeconfig", target.kubeconfig)]
    return []


def check_secret_ref(p: Problems, path: str, name: str, config_keys: frozenset[str], secrets: frozenset[str]) -> None:
    """A key that names a secret config key: that key must be set, and set as a secret."""
    if looks_secret(name):
        p.add(path, "holds what looks like a secret value itself; it must name a secret config key that holds it")
    elif name not in config_keys:
        p.add(path, f"config key {name!r} is not set (pulumi config set --secret {name} ...)")
        p.missing_secrets.add(name)
    elif name not in secrets:
        p.add(path, f"config key {name!r} is not a secret; set it with pulumi config set --secret")


def host_secret_refs(hosts: Iterable[HostSpec | None]) -> list[tuple[str, str]]:
    """(key path, config key) of every secret the hosts name."""
    return [ref for host in hosts if host is not None for ref in _host_secret_refs(host)]


def referenced_secrets(
    p: Problems,
    refs: Iterable[tuple[str, str]],
    variables: Iterable[VariableSpec],
    secrets: frozenset[str],
    config_keys: frozenset[str],
) -> set[str]:
    """Every config key the fleet reads as a secret. `refs` (key path, config key) name secrets outside the
    variables (hosts' TLS and kubeconfig, cache credentials): each must be set, and set as a secret."""
    referenced = {v.secret for v in variables if v.secret}
    for path, key in refs:
        referenced.add(key)
        check_secret_ref(p, path, key, config_keys, secrets)
    return referenced


def warn_about(p: Problems, hosts: Mapping[str, HostSpec | None], runners: Iterable[RunnerSpec | None]) -> None:
    """Legal but probably unintended: said on every run, never blocking."""
    placed = [x for x in runners if x is not None]
    for key, host in hosts.items():
        if host is None:
            continue
        count = sum(1 for x in placed if x.host == key)
        if count == 0:
            p.warn(f"hosts.{key}", "no runner is placed on this host; its manager will have nothing to run")
        elif host.concurrent < count:
            p.warn(
                f"hosts.{key}.concurrent",
                f"{host.concurrent} is lower than the {count} runners on this host; "
                "gitlab-runner then reports long-polling stalls",
            )
        target = host.target
        if isinstance(target, DockerTarget) and target.scheme == "tcp" and not (target.tls or target.cert_path):
            p.warn(
                f"hosts.{key}.docker",
                "tcp:// without tls or certPath talks to the Docker API unencrypted (DOCKER_CERT_PATH is ignored: "
                "set certPath); an unencrypted Docker API is root on that host",
            )


def check_shared_directories(p: Problems, runners: Iterable[RunnerSpec | None]) -> None:
    """A host directory that protected jobs use is never writable by unprotected jobs of the same host (they
    could poison what a protected pipeline builds from)."""
    mounts = [(r, i, d) for r in runners if r is not None for i, d in enumerate(r.host_directories)]
    for runner, i, directory in mounts:
        for other, _, theirs in mounts:
            if (
                other.host == runner.host
                and other.protected_only
                and not runner.protected_only
                and overlap(directory.host_path, theirs.host_path)
            ):
                p.add(
                    f"runners.{runner.key}.hostDirectories[{i}].hostPath",
                    f"{directory.host_path} is shared with protected runner {other.key!r}; unprotected jobs never "
                    "write where protected ones read",
                )
                break


def check_ca_key_alone(
    p: Problems, key: str, refs: Iterable[tuple[str, str]], variables: Iterable[VariableSpec]
) -> None:
    """The GitLab CA reaches every job: its secret config key holds nothing that anything else uses."""
    others = [path for path, name in refs if name == key and path != "gitlabCaBundle"]
    others += [f"variables ({v.key})" for v in variables if v.secret == key]
    if others:
        p.add(
            "gitlabCaBundle",
            f"config key {key!r} is also {others[0]}'s: the CA reaches every job, so it needs a key of its own",
        )
