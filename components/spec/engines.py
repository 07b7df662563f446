"""Rules that hold per engine, judged by identity (`domain/engine_identity.py`), never by host key or spelling.

Two host keys on one machine or cluster are allowed (two managers with their own `concurrent` budgets, proxies
or images) and are treated as one by every rule that protects what they share:
- a Kubernetes namespace is declared by one host of a cluster, and no manager's metrics listener admits another
  host's job namespace;
- a host directory that protected jobs use is never shared with unprotected jobs of the same machine;
- no host directory is inside a directory that a job of the same machine mounts writable (at any protection
  level, the same runner included): that job could swap the inner directory for a symbolic link, and Docker
  follows links in a bind source, so the next job mounting it gets any host path. A read-only outer mount is fine.
Docker managers of one machine never meet on a published port: Docker picks each one's loopback port (docker_host).
"""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from components.domain.engine_identity import Cluster, machine_groups
from components.domain.host_paths import inside
from components.domain.model import HostDirectory, HostSpec, RunnerSpec
from components.domain.targets import DockerTarget, KubernetesTarget
from components.spec.problems import Problems


def check(
    p: Problems,
    hosts: Mapping[str, HostSpec | None],
    runners: Iterable[RunnerSpec | None],
    marks: Mapping[str, str] | None = None,
) -> None:
    """Every per-engine rule over the fleet's hosts (None: invalid) and runners. `marks` (config key -> fingerprint
    of its value, `credentials.fingerprints`) make two kubeconfig keys with one value one kubeconfig."""
    check_namespaces(p, hosts.values(), marks or {})
    check_host_directories(p, hosts, runners)


def _kubernetes(hosts: Iterable[HostSpec | None]) -> list[tuple[str, KubernetesTarget]]:
    return [(h.key, h.target) for h in hosts if h is not None and isinstance(h.target, KubernetesTarget)]


def _taken(ns: str, owner: str, theirs: Cluster, mine: Cluster) -> str:
    if theirs.context == mine.context:
        return f"namespace {ns!r} is already declared by host {owner!r} in the same context; a namespace has one host"
    unnamed = "this host names" if mine.context is None else f"host {owner!r} names"
    return (
        f"namespace {ns!r} is already declared by host {owner!r} ({theirs}); {unnamed} no context, and the "
        "kubeconfig's current context may be the other one on the day of pulumi up: name each host's context"
    )


def _cluster(target: KubernetesTarget, marks: Mapping[str, str]) -> Cluster:
    """The host's cluster, its kubeconfig known by value where it can be (a kubeconfig copied under two keys is one
    kubeconfig: offline, the same ciphertext; at preview, the same value)."""
    kubeconfig = target.kubeconfig
    return Cluster(marks.get(kubeconfig, kubeconfig) if kubeconfig else None, target.context)


def check_namespaces(p: Problems, hosts: Iterable[HostSpec | None], marks: Mapping[str, str] | None = None) -> None:
    """A namespace is declared by exactly one host of a cluster, and a manager's listener never admits another
    host's job namespace. Hosts whose clusters may be one (`Cluster.may_be`) count as one cluster."""
    clusters = _kubernetes(hosts)
    cluster = {key: _cluster(target, marks or {}) for key, target in clusters}
    for n, (key, target) in enumerate(clusters):
        earlier = [(k, t) for k, t in clusters[:n] if cluster[k].may_be(cluster[key])]
        for where, ns in (("namespace", target.namespace), ("jobNamespace", target.job_namespace)):
            owner = next(((k, t) for k, t in earlier if ns in (t.namespace, t.job_namespace)), None)
            if owner is not None:
                p.add(f"hosts.{key}.kubernetes.{where}", _taken(ns, owner[0], cluster[owner[0]], cluster[key]))
        scrapers = [(f"metricsFrom[{i}]", ns) for i, ns in enumerate(target.metrics_from)]
        scrapers += [("monitoring.namespace", target.monitoring.namespace)] if target.monitoring else []
        others = [(k, t) for k, t in clusters if k != key and cluster[k].may_be(cluster[key])]
        for where, ns in scrapers:
            jobs_of = next((k for k, t in others if t.job_namespace == ns), None)
            if jobs_of is not None:
                p.add(
                    f"hosts.{key}.kubernetes.{where}",
                    f"{ns!r} is host {jobs_of!r}'s job namespace: jobs never reach a manager's listener",
                )


@dataclass(frozen=True)
class _Mount:
    """One hostDirectories entry with where it lives: its runner and that runner's machine."""

    runner: RunnerSpec
    """The runner whose jobs mount it."""
    index: int
    """Its position in the runner's hostDirectories."""
    directory: HostDirectory
    """The entry, normalised."""
    machine: str
    """The machine (`machine_of`) of the runner's Docker host, or its host key when the host is unknown."""

    @property
    def path(self) -> str:
        return f"runners.{self.runner.key}.hostDirectories[{self.index}].hostPath"

    def whose(self, other: _Mount) -> str:
        return "this runner" if other.runner.key == self.runner.key else f"runner {other.runner.key!r}"


def _mounts(hosts: Mapping[str, HostSpec | None], runners: Iterable[RunnerSpec | None]) -> list[_Mount]:
    found = []
    for runner in (r for r in runners if r is not None):
        host = hosts.get(runner.host)
        target = host.target if host is not None else None
        machine = target.engine.machine if isinstance(target, DockerTarget) else f"host {runner.host!r}"
        found += [_Mount(runner, i, directory, machine) for i, directory in enumerate(runner.host_directories)]
    return found


class _Tree:
    """Mounts of one machine by host path, to find the same, enclosing and enclosed directories without comparing
    every pair (a hostile stack may list thousands)."""

    def __init__(self, mounts: Iterable[_Mount]) -> None:
        self.by_path: dict[str, list[_Mount]] = defaultdict(list)
        for mount in mounts:
            self.by_path[mount.directory.host_path].append(mount)
        self.paths = sorted(self.by_path)

    def at(self, path: str) -> Iterator[_Mount]:
        yield from self.by_path.get(path, ())

    def above(self, path: str) -> Iterator[_Mount]:
        """Mounts of directories that hold `path`, nearest first."""
        while (cut := path.rfind("/")) > 0:
            path = path[:cut]
            yield from self.by_path.get(path, ())

    def below(self, path: str) -> Iterator[_Mount]:
        """Mounts of directories inside `path` (sorted, they follow `path + '/'` together)."""
        i = bisect.bisect_left(self.paths, path + "/")
        while i < len(self.paths) and inside(self.paths[i], path):
            yield from self.by_path[self.paths[i]]
            i += 1


def _protection_problem(mount: _Mount, protected: _Tree) -> str | None:
    if mount.runner.protected_only:
        return None
    path = mount.directory.host_path
    other = next(itertools.chain(protected.at(path), protected.above(path), protected.below(path)), None)
    if other is None:
        return None
    return (
        f"{path} is shared with protected runner {other.runner.key!r}; unprotected jobs never write where "
        "protected ones read"
    )


def _nesting_problem(mount: _Mount, writable: _Tree, every: _Tree) -> str | None:
    """Why `mount` must not be nested with another directory of its machine, or None."""
    path = mount.directory.host_path
    if (outer := next(writable.above(path), None)) is not None:
        return (
            f"{path} is inside {outer.directory.host_path}, which {mount.whose(outer)} mounts writable: its jobs "
            "could swap this directory for a symbolic link to any host path; use side-by-side directories, or "
            "mount the outer one read-only"
        )
    if not mount.directory.read_only and (inner := next(every.below(path), None)) is not None:
        return (
            f"{path} holds {inner.directory.host_path}, which {mount.whose(inner)} mounts: jobs writing here could "
            "swap that directory for a symbolic link to any host path; use side-by-side directories, or mount this "
            "one read-only"
        )
    return None


def check_host_directories(
    p: Problems, hosts: Mapping[str, HostSpec | None], runners: Iterable[RunnerSpec | None]
) -> None:
    """Host directories of one machine, across runners and host keys: protected ones apart from unprotected jobs,
    and none nested in a directory that jobs mount writable. Each entry is named with the first other one it
    clashes with, per rule."""
    mounts = _mounts(hosts, runners)
    group = machine_groups(m.machine for m in mounts)
    by_group: dict[str, list[_Mount]] = defaultdict(list)
    for mount in mounts:
        by_group[group[mount.machine]].append(mount)
    trees = {
        key: (
            _Tree(m for m in members if m.runner.protected_only),
            _Tree(m for m in members if not m.directory.read_only),
            _Tree(members),
        )
        for key, members in by_group.items()
    }
    for mount in mounts:
        protected, writable, every = trees[group[mount.machine]]
        for problem in (_protection_problem(mount, protected), _nesting_problem(mount, writable, every)):
            if problem is not None:
                p.add(mount.path, problem)
