"""The rules a stack's declared resources must follow: plain functions, the same for the plan and CrossGuard.

Each rule looks at what the program declares (never at the stack file or the spec: it checks their result),
and returns (resource name, what is wrong and what to change). A rule applies to every tier or only to some
(production); a mandatory violation stops the stack: the offline plan exits 3, and `pulumi preview
--policy-pack policy` fails. Advisory rules are printed and never block; each says why it exists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from components.domain.images import is_pinned, mirror_of_helper, rootless_buildkit
from components.domain.model import RETIRING, Tier
from components.policy.mounts import no_host_paths_for_jobs
from components.policy.reach import listener_out_of_jobs_reach, privileged_namespace_unguarded
from components.policy.resources import ConfigFile, Declared, Secret, config_files, plain, runner_entries, where

Finding = tuple[str, str]
"""(resource name, what is wrong and what to change)."""


class Exempt(tuple[str, str]):
    """A finding a rule deliberately lets pass: (resource name, why); reported, never blocking."""

    __slots__ = ()


CONTAINER = "docker:index/container:Container"
USER_RUNNER = "gitlab:index/userRunner:UserRunner"
VARIABLES = ("gitlab:index/projectVariable:ProjectVariable", "gitlab:index/groupVariable:GroupVariable")
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
K8S_SECRET = "kubernetes:core/v1:Secret"
CONFIG_MAP = "kubernetes:core/v1:ConfigMap"
KUBE_DATA_KEYS = ("data", "binaryData", "stringData")
UNCONFINED_OPTS = {"seccomp=unconfined", "apparmor=unconfined"}
CONFINED_CONTEXTS = (
    "pod_security_context",
    "helper_container_security_context",
    "service_container_security_context",
    "init_permissions_container_security_context",
)
BUILD_APPARMOR = "container.apparmor.security.beta.kubernetes.io/build"


def is_buildkit(entry: dict[str, Any]) -> bool:
    """A runner entry that may run unconfined: its images are all rootless BuildKit (upstream, or under the
    registry mirror its helper image comes from, and nowhere else) and it runs BuildKit's flags."""
    section = entry.get("docker") or entry.get("kubernetes") or {}
    allowed = section.get("allowed_images") or []
    image = str(section.get("image", ""))
    rootless = rootless_buildkit(mirror_of_helper(str(section.get("helper_image", ""))))
    flags = any(str(e).startswith("BUILDKITD_FLAGS=") for e in entry.get("environment", []))
    return (
        bool(allowed) and all(rootless.fullmatch(str(a)) for a in allowed) and bool(rootless.fullmatch(image)) and flags
    )


def _unconfined(context: Any) -> bool:
    if not isinstance(context, dict):
        return False
    profiles = (context.get("seccomp_profile"), context.get("app_armor_profile"))
    return any(isinstance(p, dict) and p.get("type") == "Unconfined" for p in profiles)


# --- mandatory everywhere ------------------------------------------------------------------------------


def no_privileged(resources: list[Declared]) -> Iterator[Finding]:
    for res in resources:
        if res.type == CONTAINER and plain(res.inputs.get("privileged")) is True:
            yield res.name, "runs privileged; set privileged false"
        if res.type == DEPLOYMENT and '"privileged": true' in _json(res.inputs.get("spec")):
            yield res.name, "a container of the manager's pod runs privileged"
    for config, entry in runner_entries(resources):
        for section in ("docker", "kubernetes"):
            table = entry.get(section) or {}
            for key in ("privileged", "services_privileged"):
                if table.get(key) is True:
                    yield where(config, entry), f"{section}.{key} is true; nothing runs privileged"


def unconfined_only_for_buildkit_build(resources: list[Declared]) -> Iterator[Finding]:
    for res in resources:
        opts = plain(res.inputs.get("securityOpts")) or []
        if res.type == CONTAINER and any("unconfined" in str(o) for o in opts):
            yield res.name, "the manager container runs unconfined; only BuildKit build containers may"
        if res.type == DEPLOYMENT and "Unconfined" in _json(res.inputs.get("spec")):
            yield res.name, "the manager's pod runs unconfined; only BuildKit build containers may"
    for config, entry in runner_entries(resources):
        yield from _unconfined_entry(config, entry)


def _unconfined_entry(config: ConfigFile, entry: dict[str, Any]) -> Iterator[Finding]:
    name, buildkit = where(config, entry), is_buildkit(entry)
    docker, k8s = entry.get("docker") or {}, entry.get("kubernetes") or {}
    opts = set(map(str, docker.get("security_opt") or []))
    if opts and (not buildkit or not opts <= UNCONFINED_OPTS):
        yield (
            name,
            f"docker.security_opt {sorted(opts)}: only a BuildKit runner's job may be seccomp/AppArmor unconfined",
        )
    if docker.get("services_security_opt"):
        yield name, "docker.services_security_opt: services are never relaxed"
    for context in CONFINED_CONTEXTS:
        if _unconfined(k8s.get(context)):
            yield name, f"kubernetes.{context} is Unconfined; only the build container may be"
    if _unconfined(k8s.get("build_container_security_context")) and not buildkit:
        yield name, "the build container is Unconfined on a runner that is not a rootless BuildKit runner"
    for key, value in (k8s.get("pod_annotations") or {}).items():
        profile = "apparmor" in key or "seccomp" in key
        if profile and (key != BUILD_APPARMOR or not buildkit or value != "unconfined"):
            yield name, f"pod annotation {key}: only the BuildKit build container's AppArmor may be unconfined"


def buildkit_build_non_root(resources: list[Declared]) -> Iterator[Finding]:
    for config, entry in runner_entries(resources):
        docker, k8s = entry.get("docker") or {}, entry.get("kubernetes") or {}
        if docker.get("security_opt"):
            users = [str(u) for u in docker.get("allowed_users") or []]
            if not users or any(u.split(":")[0] in ("root", "0") for u in users):
                yield (
                    where(config, entry),
                    "an unconfined BuildKit job must run as the image's non-root user (allowed_users)",
                )
        build = k8s.get("build_container_security_context") or {}
        if _unconfined(build) and (build.get("run_as_non_root") is not True or build.get("run_as_user") in (None, 0)):
            yield (
                where(config, entry),
                "the Unconfined build container must set run_as_non_root and a non-zero run_as_user",
            )


def _carries_config_toml(res: Declared, key: str) -> bool:
    data = plain(res.inputs.get(key))
    return isinstance(data, dict) and "config.toml" in data


def secrets_stay_secret(resources: list[Declared]) -> Iterator[Finding]:
    """What the engine is told to keep secret, judged from what every runner of the rules sees: resource types,
    property names and `additionalSecretOutputs` (CrossGuard receives secret inputs unwrapped, so whether a value
    arrived wrapped is `secret_inputs_wrapped`'s, checked offline)."""
    for res in resources:
        if res.type == USER_RUNNER and "token" not in res.secret_outputs:
            yield res.name, "the runner token must be a secret output (additionalSecretOutputs)"
        for key in KUBE_DATA_KEYS:
            if res.type == K8S_SECRET and _carries_config_toml(res, key) and key not in res.secret_outputs:
                yield res.name, f"the Secret that carries config.toml keeps {key} a secret output"
            if res.type == CONFIG_MAP and _carries_config_toml(res, key):
                yield res.name, "config.toml carries runner tokens: a Kubernetes Secret carries it, never a ConfigMap"


def secret_inputs_wrapped(resources: list[Declared]) -> Iterator[Finding]:
    """Gate-only: whether a value reaches the engine wrapped as a secret is visible in the offline plan only
    (pulumi-policy hands Analyze and AnalyzeStack every secret unwrapped)."""
    for config in config_files(resources):
        if not config.secret:
            yield config.resource.name, "config.toml carries runner tokens and must reach the engine as a secret"
    for res in resources:
        value = res.inputs.get("value")
        hidden = res.inputs.get("masked") is True or res.inputs.get("hidden") is True
        if res.type in VARIABLES and hidden and not isinstance(value, Secret):
            yield res.name, "a masked variable's value must reach the engine as a secret"
        for key in ("caMaterial", "certMaterial", "keyMaterial", "kubeconfig", "token"):
            if (
                res.type.startswith("pulumi:providers:")
                and res.inputs.get(key) not in (None, "")  # given empty, so the environment cannot fill it
                and not isinstance(res.inputs[key], Secret)
            ):
                yield res.name, f"{key} must reach the engine as a secret"


def images_pinned(resources: list[Declared]) -> Iterator[Finding]:
    for res in resources:
        if res.type == "docker:index/remoteImage:RemoteImage" and not is_pinned(str(plain(res.inputs.get("name")))):
            yield res.name, f"image {plain(res.inputs.get('name'))} is not pinned by a version tag or a digest"
        if res.type == DEPLOYMENT:
            for image in re.findall(r'"image": "([^"]+)"', _json(res.inputs.get("spec"))):
                if not is_pinned(image):
                    yield res.name, f"image {image} is not pinned by a version tag or a digest"
    for config, entry in runner_entries(resources):
        section = entry.get("docker") or entry.get("kubernetes") or {}
        for key in ("image", "helper_image"):
            if key in section and not is_pinned(str(section[key])):
                yield where(config, entry), f"{key} {section[key]} is not pinned by a version tag or a digest"


# --- mandatory for production ------------------------------------------------------------------------


def retiring(res: Declared) -> bool:
    """A registration token rotation is retiring: paused, and its description says so (model.RETIRING)."""
    description = str(plain(res.inputs.get("description", "")))
    return res.type == USER_RUNNER and plain(res.inputs.get("paused")) is True and description.endswith(RETIRING)


def production_protected(resources: list[Declared]) -> Iterator[Finding]:
    for res in resources:
        if res.type in (USER_RUNNER, *VARIABLES) and not res.protect:
            if retiring(res):
                yield Exempt((res.name, "unprotected on purpose: a paused registration token rotation is retiring"))
            elif res.type == USER_RUNNER and plain(res.inputs.get("paused")) is True:
                # The first run of a removal: paused (no new jobs) and unprotected, so that a later run may delete it.
                yield Exempt((res.name, "unprotected while paused: on its way out (README: Decommissioning)"))
            else:
                yield res.name, "a production registration or variable is protected against deletion (protect: true)"


def production_protected_refs_only(resources: list[Declared]) -> Iterator[Finding]:
    for res in resources:
        if res.type == USER_RUNNER and plain(res.inputs.get("accessLevel")) != "ref_protected":
            yield res.name, "a production runner takes jobs of protected refs only (protectedOnly: true)"


def production_masked_protected(resources: list[Declared]) -> Iterator[Finding]:
    for res in resources:
        if res.type in VARIABLES and res.inputs.get("masked") is True and res.inputs.get("protected") is not True:
            yield res.name, "a masked production variable is also protected (protected: true)"


# --- advisory -------------------------------------------------------------------------------------------


def tcp_without_tls(resources: list[Declared]) -> Iterator[Finding]:
    for res in resources:
        host = str(plain(res.inputs.get("host", "")))
        tls = any(plain(res.inputs.get(k)) for k in ("caMaterial", "certPath"))  # present but empty is no TLS
        if res.type == "pulumi:providers:docker" and host.startswith("tcp://") and not tls:
            yield res.name, "tcp:// without TLS: an unencrypted Docker API is root on that host"


def buildkit_runs_untagged(resources: list[Declared]) -> Iterator[Finding]:
    buildkit = {str(entry.get("name")) for _, entry in runner_entries(resources) if is_buildkit(entry)}
    for res in resources:
        description = str(plain(res.inputs.get("description", "")))  # runner-fleet <stack>/<key>
        name = description.removeprefix("runner-fleet ").replace("/", "-", 1)
        if res.type == USER_RUNNER and res.inputs.get("untagged") is True and name in buildkit:
            yield res.name, "a BuildKit runner that runs untagged jobs gives every untagged job the relaxation"


def runner_without_maximum_timeout(resources: list[Declared]) -> Iterator[Finding]:
    for res in resources:
        if res.type == USER_RUNNER and res.inputs.get("maximumTimeout") is None:
            yield (
                res.name,
                (
                    "no maximumTimeout declared: GitLab keeps whatever value it had, and a job longer than the drain "
                    "(one hour without the key) would be cut off on replacement"
                ),
            )


def _json(value: Any) -> str:
    return json.dumps(plain(value), sort_keys=True, default=str)


@dataclass(frozen=True)
class Rule:
    """One policy: its id, what it asks for, when it blocks, and its check."""

    id: str
    """Stable identifier, also the CrossGuard policy name."""
    description: str
    """What the rule asks for, and why (advisory ones say why they exist)."""
    check: Callable[[list[Declared]], Iterator[Finding]]
    """The rule over every declared resource."""
    tiers: frozenset[Tier] | None = None
    """The tiers it applies to; None: every tier."""
    advisory: bool = False
    """Advisory rules are reported and never block."""
    whole_stack: bool = False
    """The rule relates resources to each other (a manager and its NetworkPolicy), so CrossGuard runs it over the
    whole stack (a stack validation policy) instead of one resource at a time."""
    gate_only: bool = False
    """The rule needs what only the offline plan sees (whether an input reached the engine wrapped as a secret:
    pulumi-policy unwraps every secret before a policy reads it), so the CrossGuard pack leaves it out."""


PRODUCTION = frozenset({Tier.PRODUCTION})
RULES: tuple[Rule, ...] = (
    Rule("no-privileged", "Nothing runs privileged: no manager, job or service.", no_privileged),
    Rule(
        "unconfined-only-for-buildkit-build",
        "Seccomp/AppArmor unconfined only on rootless BuildKit build containers.",
        unconfined_only_for_buildkit_build,
    ),
    Rule(
        "buildkit-build-non-root", "An unconfined BuildKit build container runs as non-root.", buildkit_build_non_root
    ),
    Rule("no-host-paths-for-jobs", "Jobs reach no host path, socket, device or namespace.", no_host_paths_for_jobs),
    Rule(
        "listener-out-of-jobs-reach",
        "The manager's metrics/debug listener is unreachable from jobs and scrapeable by the operator.",
        listener_out_of_jobs_reach,
        whole_stack=True,
    ),
    Rule(
        "secrets-stay-secret",
        "Runner tokens are secret outputs; config.toml travels in a Kubernetes Secret, never a ConfigMap.",
        secrets_stay_secret,
    ),
    Rule(
        "secret-inputs-wrapped",
        "config.toml, masked variables' values, TLS material, kubeconfigs and tokens reach the engine as secrets "
        "(offline plan only: CrossGuard receives them unwrapped).",
        secret_inputs_wrapped,
        gate_only=True,
    ),
    Rule("images-pinned", "Every image is pinned by a version tag or a digest, never latest.", images_pinned),
    Rule(
        "production-protected",
        "Production registrations and variables are protected.",
        production_protected,
        PRODUCTION,
    ),
    Rule(
        "production-protected-refs-only",
        "Production runners take jobs of protected refs only.",
        production_protected_refs_only,
        PRODUCTION,
    ),
    Rule(
        "production-masked-variables-protected",
        "Masked production variables are also protected.",
        production_masked_protected,
        PRODUCTION,
    ),
    Rule(
        "tcp-without-tls",
        "Advisory: a tcp:// Docker engine without TLS is an unauthenticated root shell on its host.",
        tcp_without_tls,
        advisory=True,
    ),
    Rule(
        "buildkit-runs-untagged",
        "Advisory: a BuildKit runner that takes untagged jobs lends the relaxation to jobs that did not ask for it.",
        buildkit_runs_untagged,
        advisory=True,
        whole_stack=True,
    ),
    Rule(
        "privileged-job-namespace-unguarded",
        "Advisory: a privileged job namespace without the admission guard admits any pod (clusters < 1.30).",
        privileged_namespace_unguarded,
        advisory=True,
        whole_stack=True,
    ),
    Rule(
        "runner-without-maximum-timeout",
        "Advisory: every registration declares maximumTimeout, so GitLab stops jobs within the drain (one hour by "
        "default).",
        runner_without_maximum_timeout,
        advisory=True,
    ),
)


@dataclass(frozen=True)
class Violation:
    """One finding of one rule, and whether it blocks on this tier."""

    rule: str
    """The rule's id."""
    resource: str
    """The resource (or config.toml entry) it is about."""
    message: str
    """What is wrong and what to change."""
    mandatory: bool
    """Whether it blocks this stack."""
    exempt: bool = False
    """A finding the rule lets pass on purpose (e.g. a retiring registration); never blocks."""

    def __str__(self) -> str:
        return f"policy {self.rule}: {self.resource}: {self.message}"


def evaluate(resources: list[Declared], tier: Tier) -> list[Violation]:
    """Every finding of every rule, mandatory ones first."""
    found = [
        Violation(
            rule.id,
            finding[0],
            finding[1],
            mandatory=not rule.advisory and not isinstance(finding, Exempt),
            exempt=isinstance(finding, Exempt),
        )
        for rule in RULES
        if rule.tiers is None or tier in rule.tiers
        for finding in rule.check(resources)
    ]
    return sorted(found, key=lambda v: (not v.mandatory, v.rule, v.resource))
