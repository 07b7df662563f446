"""Every name the program will declare, computed from the parsed spec alone, and the check that no two collide.

Host and runner keys end up in Pulumi resource names (a URN is unique per parent type, type and name: a duplicate
fails `pulumi up` half-way), Docker container, volume and network names, Kubernetes object names, GitLab runner
descriptions, config.toml runner names, the manager's `.runner_system_id` and the offline plan's `hosts/<host>/`
directories. Each is built by runner-fleet appending a suffix to a key (`gitlab-runner-<stack>-<host>-config-writer`,
`runner-<runner>-b`), so one key can spell another key's derived name: host `x-config-writer`'s manager container is
host `x`'s config writer. `declared(spec)` lists every name with the same functions the components call
(domain/naming.py, render/labels.py, render/manifests.py, render/admission.py, domain/rotation.py; a meta
test compares it with what the program declares under the mock engine), and `check` refuses, under the key that
makes it, any name that another key's name already is once case is folded. Names are compared case-insensitively
everywhere: keys that differ only in case are one name to whoever reads them, and the plan's `hosts/<host>/`
directories merge on case-insensitive file systems (macOS, Windows).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from components.domain import naming, rotation
from components.domain.engine_identity import Cluster
from components.domain.model import RETIRING, FleetSpec, HostSpec, ManagerSpec, RunnerSpec, ScopeKind, VariableSpec
from components.domain.targets import DockerTarget, KubernetesTarget
from components.render import admission, manifests, monitoring
from components.render import labels as marks
from components.spec.problems import Problems

PULUMI, DOCKER, KUBERNETES, GITLAB, PLAN = "Pulumi", "Docker", "Kubernetes", "GitLab", "plan output"
"""The systems that hold the names; each has its own rules for what must be unique (the scope)."""

STACK_TYPE = "pulumi:pulumi:Stack"
FLEET_TYPE = "runner-fleet:fleet:RunnerFleet"
DOCKER_HOST_TYPE = "runner-fleet:docker_host:DockerRunnerHost"
K8S_HOST_TYPE = "runner-fleet:kubernetes_host:KubernetesRunnerHost"
REGISTRATION_TYPE = "runner-fleet:registration:RunnerRegistration"
VARIABLES_TYPE = "runner-fleet:ci_variables:CiVariables"
USER_RUNNER_TYPE = "gitlab:index/userRunner:UserRunner"
FLEET_NAME = "fleet"
"""The RunnerFleet component __main__.py declares."""

# A Docker host's children: suffix -> (Pulumi type, what it is). The CA volume exists only with a GitLab CA.
DOCKER_CHILDREN = {
    naming.DOCKER_IMAGE: ("docker:index/remoteImage:RemoteImage", "runner image"),
    naming.DOCKER_CONFIG_VOLUME: ("docker:index/volume:Volume", "config volume"),
    naming.DOCKER_NETWORK: ("docker:index/network:Network", "manager network"),
    naming.DOCKER_CA_VOLUME: ("docker:index/volume:Volume", "GitLab CA volume"),
    naming.DOCKER_CONFIG_WRITER: ("docker:index/container:Container", "config writer container"),
    naming.DOCKER_MANAGER: ("docker:index/container:Container", "manager container"),
    naming.DOCKER_CONFIG_RELOADER: ("docker:index/container:Container", "config reloader container"),
}
# The Docker objects of a host: (kind, name function of stack, host key and generation, what it is, needs the CA).
DOCKER_OBJECTS = (
    ("container", marks.manager_name, "manager container", False),
    ("container", marks.config_writer_name, "config writer container", False),
    ("container", marks.config_reloader_name, "config reloader container", False),
    ("volume", marks.config_volume_name, "config volume", False),
    ("volume", lambda stack, key, _: marks.ca_volume_name(stack, key), "GitLab CA volume", True),
    ("network", lambda stack, key, _: marks.network_name(stack, key), "manager network", False),
)
# Kubernetes kinds whose names are DNS labels (at most 63 characters); the others are DNS subdomains (253).
LABEL_KINDS = frozenset({"Namespace", "Service"})
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


@dataclass(frozen=True)
class Declared:
    """One name the program declares."""

    system: str
    """Who holds it: PULUMI, DOCKER, KUBERNETES, GITLAB or PLAN."""
    scope: tuple[str, ...]
    """Where it must be unique in that system: (parent type, type) for Pulumi URNs, the object kind for Docker,
    (kind, namespace) for Kubernetes ("" namespace: cluster-scoped) within one cluster, the kind of name for the
    others."""
    name: str
    """The name as declared."""
    owner: str
    """The stack-file key it derives from (`hosts.<key>`, `runners.<key>`, `variables`); "" for the fleet's own."""
    what: str
    """What it names, as a user reads it."""
    suffix: str = ""
    """What runner-fleet appends to the owner's key to make it (reserved: a key ending in it could meet this name)."""
    chosen: bool = False
    """Chosen by the user (a namespace), or made from a chosen name alone (the admission policy, named after the job
    namespace): unique exactly when the chosen names are, which spec/engines.py checks per cluster, not we."""
    cluster: Cluster | None = None
    """The Kubernetes cluster as the stack names it: names meet only on clusters that may be one."""

    def meets(self, other: Declared) -> bool:
        """Whether `other`, a name in the same scope, is one with this one in the same place."""
        if other.owner == self.owner or (other.chosen and self.chosen):
            return False  # one key's own names never meet (different kinds or suffixes)
        return self.cluster is None or other.cluster is None or self.cluster.may_be(other.cluster)


def _pulumi(scope: tuple[str, str], name: str, owner: str, what: str, base: str = "") -> Declared:
    """A Pulumi resource, unique per (parent type, type) and name; `base`: the owner's name this one extends."""
    return Declared(PULUMI, scope, name, owner, what, suffix=name.removeprefix(base) if base else "")


def _docker_host(spec: FleetSpec, host: HostSpec) -> Iterator[Declared]:
    owner, component, with_ca = f"hosts.{host.key}", naming.host(host.key), spec.gitlab_ca is not None
    base = marks.container_name(spec.stack, host.key)
    generation = marks.manager_inputs(spec.manager(host)).generation
    # Docker's names first: of a pair of keys that meet in several systems, the message names the one users see.
    for kind, name_of, what, needs_ca in DOCKER_OBJECTS:
        if with_ca or not needs_ca:
            name = name_of(spec.stack, host.key, generation)
            yield Declared(DOCKER, (kind,), name, owner, what, suffix=name.removeprefix(base))
    yield _pulumi((FLEET_TYPE, "pulumi:providers:docker"), naming.docker_provider(host.key), owner, "Docker provider")
    yield _pulumi((FLEET_TYPE, DOCKER_HOST_TYPE), component, owner, "host component")
    for suffix, (typ, what) in DOCKER_CHILDREN.items():
        if suffix != naming.DOCKER_CA_VOLUME or with_ca:
            yield _pulumi((DOCKER_HOST_TYPE, typ), naming.child(component, suffix), owner, what, component)


def _k8s_objects(manager: ManagerSpec, target: KubernetesTarget) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(Pulumi child suffix, what it is, the object as rendered) of every object the host component declares."""
    yield naming.K8S_NAMESPACE, "manager namespace", manifests.manager_namespace(manager, target)
    yield naming.K8S_JOB_NAMESPACE, "job namespace", manifests.job_namespace(manager, target)
    if admission.applies(target):
        found = manifests.labels(manager)
        yield naming.K8S_ADMISSION, "job admission policy", admission.policy(manager, target, found)
        yield naming.K8S_ADMISSION_BINDING, "job admission policy binding", admission.binding(target, found)
    yield naming.K8S_SERVICE_ACCOUNT, "service account", manifests.service_account(manager, target)
    yield naming.K8S_ROLE, "role", manifests.role(manager, target)
    yield naming.K8S_ROLE_BINDING, "role binding", manifests.role_binding(manager, target)
    config = {"apiVersion": "v1", "kind": "Secret", "metadata": manifests.config_secret_metadata(manager, target)}
    yield naming.K8S_CONFIG, "config Secret", config
    if manager.gitlab_ca is not None:
        ca = {"apiVersion": "v1", "kind": "Secret", "metadata": manifests.ca_secret_metadata(manager, target)}
        yield naming.K8S_JOB_CA, "job GitLab CA Secret", ca
    yield naming.K8S_METRICS_POLICY, "metrics NetworkPolicy", manifests.metrics_network_policy(manager, target)
    for replica in manifests.replicas(manager):
        deployment = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": manifests.deployment_metadata(manager, target, replica),
        }
        yield naming.k8s_manager(replica.index), "manager Deployment", deployment
    if (budget := manifests.disruption_budget(manager, target)) is not None:
        yield naming.K8S_DISRUPTION_BUDGET, "managers' PodDisruptionBudget", budget
    yield naming.K8S_METRICS, "metrics Service", manifests.metrics_service(manager, target)
    if target.monitoring is not None:
        yield naming.K8S_SERVICE_MONITOR, "ServiceMonitor", monitoring.service_monitor(manager, target)
        yield naming.K8S_ALERT_RULES, "PrometheusRule", monitoring.prometheus_rule(manager, target)


def _k8s_type(obj: dict[str, Any]) -> str:
    """The Pulumi type token of a Kubernetes object: `kubernetes:<group/version>:<kind>` (core: `core/v1`)."""
    version = obj["apiVersion"] if "/" in obj["apiVersion"] else f"core/{obj['apiVersion']}"
    return f"kubernetes:{version}:{obj['kind']}"


def _k8s_host(spec: FleetSpec, host: HostSpec, target: KubernetesTarget) -> Iterator[Declared]:
    owner, component, manager = f"hosts.{host.key}", naming.host(host.key), spec.manager(host)
    typ = "pulumi:providers:kubernetes"
    yield _pulumi((FLEET_TYPE, typ), naming.kubernetes_provider(host.key), owner, "Kubernetes provider")
    yield _pulumi((FLEET_TYPE, K8S_HOST_TYPE), component, owner, "host component")
    base = manifests.object_name(host.key)
    for suffix, what, obj in _k8s_objects(manager, target):
        yield _pulumi((K8S_HOST_TYPE, _k8s_type(obj)), naming.child(component, suffix), owner, what, component)
        kind, name, namespace = obj["kind"], obj["metadata"]["name"], obj["metadata"].get("namespace", "")
        extra = name.removeprefix(base) if name.startswith(base) else ""
        chosen = kind == "Namespace" or suffix in (naming.K8S_ADMISSION, naming.K8S_ADMISSION_BINDING)
        yield Declared(KUBERNETES, (kind, namespace), name, owner, what, extra, chosen, target.cluster)
    for replica in manifests.replicas(manager):
        yield Declared(GITLAB, ("manager system id",), replica.identity, owner, "manager system id")


def _runner(spec: FleetSpec, runner: RunnerSpec, *, every_moment: bool) -> Iterator[Declared]:
    owner, component = f"runners.{runner.key}", naming.runner(runner.key)
    yield _pulumi((FLEET_TYPE, REGISTRATION_TYPE), component, owner, "registration component")
    planned = rotation.registrations(component, runner.rotation, paused=runner.paused, protect=spec.protect)
    names = {r.name: r.retiring for r in planned}
    if every_moment and runner.rotation is not None:
        # The check holds at every moment, not only the planned one: each slot in turn is active and retiring.
        names = {rotation.slot_name(component, slot): retiring for slot in rotation.SLOTS for retiring in (False, True)}
    for name in names:
        what = "registration" if runner.rotation is None else "rotation slot registration"
        yield _pulumi((REGISTRATION_TYPE, USER_RUNNER_TYPE), name, owner, what, component)
    description = naming.description(spec.stack, runner.key)
    yield Declared(GITLAB, ("runner description",), description, owner, "runner description")
    if any(names.values()):
        retiring = description + RETIRING
        yield Declared(GITLAB, ("runner description",), retiring, owner, "retiring runner description", RETIRING)
    config_name = naming.config_runner_name(spec.stack, runner.key)
    yield Declared(GITLAB, ("config.toml runner name",), config_name, owner, "config.toml runner name")


def _variables(variables: Iterable[VariableSpec]) -> Iterator[Declared]:
    listed = list(variables)
    if listed:
        yield _pulumi((FLEET_TYPE, VARIABLES_TYPE), naming.VARIABLES, "", "variables component")
    for var in listed:
        typ = (
            "projectVariable:ProjectVariable" if var.owner_kind is ScopeKind.PROJECT else "groupVariable:GroupVariable"
        )
        what = f"variable {var.key} of {var.owner_kind.value} {var.owner} ({var.environment_scope})"
        yield _pulumi((VARIABLES_TYPE, f"gitlab:index/{typ}"), naming.variable(var), "variables", what)


def declared(spec: FleetSpec, *, every_moment: bool = False) -> list[Declared]:
    """Every name the program declares for `spec`, at the spec's planned moment; with `every_moment`, also the names
    a rotating runner takes at other moments (its other slot, retiring or not)."""
    found = [_pulumi((STACK_TYPE, FLEET_TYPE), FLEET_NAME, "", "fleet component")]
    found.append(_pulumi((FLEET_TYPE, "pulumi:providers:gitlab"), naming.GITLAB_PROVIDER, "", "GitLab provider"))
    for host in spec.hosts:
        if isinstance(host.target, DockerTarget):
            found += _docker_host(spec, host)
        elif isinstance(host.target, KubernetesTarget):
            found += _k8s_host(spec, host, host.target)
        found.append(Declared(PLAN, ("hosts/ directory",), host.key, f"hosts.{host.key}", "plan output directory"))
    for runner in spec.runners:
        found += _runner(spec, runner, every_moment=every_moment)
    found += _variables(spec.variables)
    return found


def _kind(owner: str) -> str:
    return {"hosts": "host", "runners": "runner"}.get(owner.split(".", 1)[0], "variable")


def _key(owner: str) -> str:
    return owner.split(".", 1)[1] if "." in owner else owner


def _label(item: Declared) -> str:
    if item.system == PULUMI:
        typ = item.scope[1]
        return f"Pulumi {'provider' if typ.startswith('pulumi:providers:') else typ.rsplit(':', 1)[-1]} {item.name!r}"
    if item.system == PLAN:
        return f"the plan's directory hosts/{item.name}/"
    if item.system == KUBERNETES:
        return f"Kubernetes {item.scope[0]} {item.name!r}"
    return f"{item.system} {item.scope[0]} {item.name!r}"


def _message(mine: Declared, theirs: Declared) -> str:
    """`mine` (the longer key's) is `theirs` once case is folded: say which keys, which name, and why."""
    kind, key, other = _kind(mine.owner), _key(mine.owner), _key(theirs.owner)
    said = (
        f"{kind} key {key!r} gives {_label(mine)} (its {mine.what}), which is already {_kind(theirs.owner)} {other!r}'s"
    )
    if key.casefold() == other.casefold():
        return (
            f"{said} {theirs.what} once case is folded: keys that differ only in case are one name to whoever reads "
            "them and to case-insensitive file systems; rename one of them"
        )
    if theirs.suffix and key.casefold().startswith(other.casefold()):
        return (
            f"{said} {theirs.what} (runner-fleet appends the reserved suffix {theirs.suffix!r} to {other!r} for it); "
            f"choose a {kind} key that does not end in {key[len(other) :]!r}"
        )
    return f"{said} {theirs.what}; rename one of them"


def _invalid(item: Declared) -> str | None:
    """Why a Kubernetes name runner-fleet derives would be refused by the API server (None: it would not)."""
    if item.system != KUBERNETES or item.chosen:
        return None
    kind = item.scope[0]
    if kind in LABEL_KINDS:
        if DNS_LABEL.fullmatch(item.name) and (kind != "Service" or item.name[0].isalpha()):
            return None
        return "a DNS label of at most 63 lower-case letters, digits and '-'" + (
            ", starting with a letter" if kind == "Service" else ""
        )
    if len(item.name) <= 253 and DNS_SUBDOMAIN.fullmatch(item.name):
        return None
    return "a DNS subdomain of at most 253 lower-case letters, digits, '-' and '.'"


def _longer_last(a: Declared, b: Declared) -> tuple[Declared, Declared]:
    """(the one to refuse, the other): the longer key carries the suffix; of equal ones, the later."""
    return (b, a) if (len(_key(a.owner)), a.owner) < (len(_key(b.owner)), b.owner) else (a, b)


def check(p: Problems, spec: FleetSpec) -> None:
    """Refuse every derived name that another key's name already is (at any moment of a rotation), under the key
    that makes it, naming the other key; and every Kubernetes name the API server would refuse."""
    seen: dict[tuple[str, tuple[str, ...], str], list[Declared]] = {}
    reported: set[tuple[str, str]] = set()
    for item in declared(spec, every_moment=True):
        if (why := _invalid(item)) is not None:
            p.add(item.owner, f"gives {_label(item)} (its {item.what}), which Kubernetes refuses: expected {why}")
        earlier = seen.setdefault((item.system, item.scope, item.name.casefold()), [])
        first = next((other for other in earlier if item.meets(other)), None)
        earlier.append(item)
        if first is None:
            continue
        mine, theirs = _longer_last(first, item)
        if (mine.owner, theirs.owner) not in reported:
            reported.add((mine.owner, theirs.owner))
            p.add(mine.owner or "variables", _message(mine, theirs))
