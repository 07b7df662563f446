"""Checks that need the whole fleet: secret references and warnings about odd but legal setups (the per-engine rules,
namespaces, metrics ports and host directories, are in `engines.py`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from components.domain.model import HostSpec, RunnerSpec, VariableSpec
from components.domain.targets import DockerTarget, KubernetesTarget
from components.spec import keys
from components.spec.problems import Problems, looks_secret


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
        p.add(path, f"config key {name!r} is not set (pulumi config set --secret {name}: it prompts, or reads stdin)")
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
