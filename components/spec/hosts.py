"""Read `hosts.<h>`: where one manager runs (a Docker engine or a Kubernetes namespace) and its global settings.

The keys and their types are in `keys.HOST`, `keys.DOCKER`, `keys.TLS` and `keys.KUBERNETES`; this module adds
the rules that tie keys together (URL schemes, TLS only for tcp://, namespace names, toleration effects).
Docker URLs: https://docs.docker.com/engine/security/protect-access/ ; namespaces are RFC 1123 labels.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from components.domain import versions
from components.domain.images import HELPER_INDEX_SINCE, image_problem, release, runner_version
from components.domain.model import HostSpec, default_runner_image
from components.domain.targets import DockerTarget, DockerTls, KubernetesTarget, Monitoring, default_job_namespace
from components.spec import keys, ssh_values, tolerations
from components.spec.problems import Problems
from components.spec.reader import check_name, read_section
from components.spec.safe_text import url_error
from components.spec.site_keys import parse_proxy

K8S_NAMESPACE_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")


def _url_problem(url: str) -> str | None:
    """What is wrong with a Docker engine URL, or None."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # a port that is not a number or out of range, a broken IPv6 literal
        return f"not a valid URL ({url_error(exc)})"
    rules = (
        (
            any(c.isspace() or not c.isprintable() for c in url),
            "a Docker engine URL has no whitespace or control characters (URL parsers drop some of them silently)",
        ),
        (
            parts.scheme not in ("ssh", "tcp", "unix"),
            f"expected an ssh://user@host[:port], tcp://host:port or unix:///path URL, found {url!r}",
        ),
        (
            url.split(":", 1)[0] != parts.scheme,
            "write the scheme in lower case (ssh://, tcp://, unix://): the checks that hold for an engine (TLS for "
            "tcp://) read it so",
        ),
        (
            parts.scheme == "unix" and not parts.path.startswith("/"),
            f"a unix:// URL needs an absolute socket path (unix:///var/run/docker.sock), found {url!r}",
        ),
        (parts.scheme in ("ssh", "tcp") and not parts.hostname, f"expected a host name in {url!r}"),
        (
            parts.scheme in ("ssh", "tcp") and (parts.hostname or "").startswith("-"),
            "a host name never starts with '-' (the ssh client would read it as an option)",
        ),
        (parts.scheme in ("ssh", "tcp") and parts.path not in ("", "/"), f"an {parts.scheme}:// URL has no path"),
        (parts.scheme == "unix" and bool(parts.netloc), "a unix:// URL is unix:///absolute/path (three slashes)"),
        (port == 0, "port 0 is not a port"),
        (bool(parts.query or parts.fragment), "a Docker engine URL has no query or fragment"),
        (parts.scheme == "tcp" and port is None, f"a tcp:// URL needs a port (tcp://host:2376), found {url!r}"),
        (
            parts.scheme == "ssh" and bool(parts.password),
            "a password in an ssh:// URL is refused by Docker; use an SSH key or agent",
        ),
    )
    return next((message for broken, message in rules if broken), None)


def _user_host(url: str) -> tuple[str | None, str | None]:
    """The user and host of a valid ssh:// or tcp:// URL (None for unix://)."""
    parts = urlsplit(url)
    return (parts.username, parts.hostname) if parts.scheme in ("ssh", "tcp") else (None, None)


def _parse_tls(p: Problems, raw: object, path: str) -> DockerTls | None:
    values = read_section(p, raw, path, keys.TLS)
    if values is None or len(values) != len(keys.TLS.keys):
        return None
    return DockerTls(**values)


def parse_docker(p: Problems, raw: object, path: str) -> DockerTarget | None:
    values = read_section(p, raw, path, keys.DOCKER, {"tls": _parse_tls})
    if values is None or "url" not in values:
        return None
    problem = _url_problem(values["url"])
    if problem is not None:
        p.add(f"{path}.host", problem)
        return None
    if (found := ssh_values.ssh_opts_problem(values.get("ssh_opts", ()))) is not None:
        p.add(f"{path}.sshOpts[{found[0]}]", found[1])
    if (problem := ssh_values.engine_url_problem(*_user_host(values["url"]))) is not None:
        p.add(f"{path}.host", problem)
    target = DockerTarget(**values)
    if target.scheme != "ssh" and target.ssh_opts:
        p.add(f"{path}.sshOpts", "applies only to ssh:// Docker hosts")
    if target.scheme != "tcp" and (target.tls or target.cert_path):
        p.add(f"{path}.tls", "TLS material applies only to tcp:// Docker hosts")
    if target.tls and target.cert_path:
        p.add(f"{path}.certPath", "set either certPath or tls, not both")
    if target.cert_path is not None and (
        not target.cert_path.startswith("/") or ssh_values.PATH(target.cert_path) is not None
    ):
        # It reaches the provider and doctor's docker command line: a plain absolute directory, nothing a shell or
        # another program would read differently.
        p.add(
            f"{path}.certPath",
            "expected an absolute directory path of letters, digits and . _ + @ , / - (no spaces, quotes, ';', '$')",
        )
    return target


CLUSTER_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
"""Namespaces that belong to the cluster: runner-fleet creates, labels and deletes the ones it names."""
LABEL_VALUE_RE = re.compile(r"([A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?)?")
LABEL_KEY_RE = re.compile(r"([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?")


def _is_namespace(p: Problems, path: str, name: str) -> bool:
    if not K8S_NAMESPACE_RE.match(name):
        p.add(path, f"expected a Kubernetes namespace name (RFC 1123 label), found {name!r}")
        return False
    if name in CLUSTER_NAMESPACES or name.startswith("kube-"):
        p.add(path, f"{name!r} belongs to the cluster; runner-fleet creates and owns the namespaces it names")
        return False
    return True


def _check_node_selector(p: Problems, path: str, pairs: tuple[tuple[str, str], ...]) -> None:
    for label, value in pairs:
        if not LABEL_KEY_RE.fullmatch(label):
            p.add(f"{path}.{label}", "expected a Kubernetes label key ([prefix/]name of at most 63 characters)")
        elif not LABEL_VALUE_RE.fullmatch(value):
            p.add(f"{path}.{label}", "expected a Kubernetes label value (at most 63 letters, digits, '-', '_', '.')")


def _metrics_from_valid(p: Problems, path: str, values: dict[str, Any]) -> bool:
    """`metricsFrom`: namespace names, each once, never the job namespace (the listener serves /debug too)."""
    names = values.get("metrics_from", ())
    valid = True
    for i, name in enumerate(names):
        where = f"{path}.metricsFrom[{i}]"
        if not _is_namespace(p, where, name):
            valid = False
        elif name == values.get("job_namespace"):
            p.add(where, "the job namespace never reaches the manager's metrics and debug listener")
            valid = False
    if len(set(names)) != len(names):
        p.add(f"{path}.metricsFrom", "lists a namespace twice")
        valid = False
    return valid


def _monitoring(p: Problems, raw: object, path: str) -> Monitoring | None:
    values = read_section(p, raw, path, keys.MONITORING)
    if values is None or "namespace" not in values or not _is_namespace(p, f"{path}.namespace", values["namespace"]):
        return None
    _check_node_selector(p, f"{path}.serviceMonitorLabels", values.get("service_monitor_labels", ()))
    for label, _ in values.get("service_monitor_labels", ()):
        if label.startswith(("runner-fleet.io/", "app.kubernetes.io/")):
            p.add(f"{path}.serviceMonitorLabels.{label}", "runner-fleet sets this label itself; choose another key")
    return Monitoring(**values)


def parse_kubernetes(p: Problems, raw: object, path: str) -> KubernetesTarget | None:
    values = read_section(p, raw, path, keys.KUBERNETES, {"monitoring": _monitoring})
    if values is None:
        return None
    valid = "namespace" in values and _is_namespace(p, f"{path}.namespace", values["namespace"])
    # A job namespace derived from an invalid namespace is not a second problem; a written one always is.
    if "job_namespace" not in values and valid:
        values["job_namespace"] = default_job_namespace(values["namespace"])
    if "job_namespace" in values:
        valid = _is_namespace(p, f"{path}.jobNamespace", values["job_namespace"]) and valid
    if valid and values["job_namespace"] == values["namespace"]:
        # Jobs need a laxer Pod Security level than the manager, and must not reach its ServiceAccount or Secret.
        p.add(f"{path}.jobNamespace", "must differ from namespace: jobs never share the manager's namespace")
        valid = False
    valid = _metrics_from_valid(p, path, values) and valid
    monitoring = values.get("monitoring")
    if monitoring is not None and monitoring.namespace == values.get("job_namespace"):
        p.add(
            f"{path}.monitoring.namespace", "the job namespace never reaches the manager's metrics and debug listener"
        )
        valid = False
    _check_node_selector(p, f"{path}.nodeSelector", values.get("node_selector", ()))
    tolerations.check(p, f"{path}.tolerations", values.get("tolerations", ()))
    if (context := values.get("context")) is not None and (problem := ssh_values.context_problem(context)):
        p.add(f"{path}.context", problem)
    return KubernetesTarget(**values) if valid else None


def _check_runner_image(p: Problems, path: str, values: dict[str, Any], mirror: str | None) -> None:
    """The manager's image: the pinned release (from the mirror) unless written; under a mirror, a written one
    names its exact release, since the helper image jobs pull from the mirror is pinned to it."""
    if "runner_image" not in values:
        values["runner_image"] = default_runner_image(mirror)
    elif (problem := image_problem(values["runner_image"])) is not None:
        p.add(f"{path}.runnerImage", problem)
    elif (version := runner_version(values["runner_image"])) is None:
        p.add(
            f"{path}.runnerImage",
            "the tag must name the exact gitlab-runner release (name:alpine-v19.3.0, optionally @sha256:digest): "
            "runner-fleet checks it against what the rendered config needs"
            + (", and jobs pull the helper image of that release from registryMirror" if mirror else ""),
        )
    elif (target := values.get("target")) is not None:
        floor, why = versions.RUNNER_FLOORS[target.executor.value]
        found = release(version)
        if found < floor:
            p.add(
                f"{path}.runnerImage",
                f"{version} is older than gitlab-runner {floor[0]}.{floor[1]}, which a {target.executor.value} host "
                f"needs for {why}",
            )
        elif mirror and found < HELPER_INDEX_SINCE:
            since = ".".join(map(str, HELPER_INDEX_SINCE))
            p.add(
                f"{path}.runnerImage",
                f"{version} is older than gitlab-runner {since}, which registryMirror needs: jobs pull the helper "
                f"image from the mirror by its multi-arch tag (alpine-latest-<release>), published from {since} on",
            )


def parse_host(p: Problems, key: str, raw: object, mirror: str | None = None) -> HostSpec | None:
    """One host; `mirror` is the fleet's registry mirror, which its manager's image comes from by default."""
    path = f"hosts.{key}"
    named = check_name(p, key, path, "host")
    nested = {"docker": parse_docker, "kubernetes": parse_kubernetes, "proxy": parse_proxy}
    values = read_section(p, raw, path, keys.HOST, nested)
    if values is None:
        return None
    _check_runner_image(p, path, values, mirror)  # after the target: the floor depends on the executor
    if values.pop("executor", None) is None or "target" not in values or not named:
        return None
    return HostSpec(key=key, **values)
