"""One credential, one role: every secret config key the fleet reads serves one trust role, at one protection level.

A secret config key is a credential, and where its value goes decides who can use it. The Docker engine's TLS
material and a kubeconfig stay on the machine that runs `pulumi`: whoever holds them is root on that host or
admin of that cluster. Registry auth and CI/CD variable values reach jobs. Cache credentials stay in the
manager's config.toml (gitlab-runner hands the jobs' cache helper pre-signed URLs, not the key). So the same key
(or the same value under two keys) in two roles hands one audience another audience's credential: registry auth
that is the engine's TLS key gives every job root on the host. `ROLES` and `SHARED` say, as data, what each role
is and which roles may share a credential; `check` refuses every other sharing, naming both uses.

Roles that reach jobs also carry a protection level (a protected variable, a protected-refs-only runner): a
credential of protected jobs never reaches unprotected ones, so sharing within those roles needs one level. Two
CI/CD variables with one value also need one masking: the unmasked one would print what the masked one hides.

The same value under two keys is judged on fingerprints (`check_values`), never on values: `load()` reads each
secret config value once, only to fingerprint it, before anything is declared (as the SDK's own `get_secret`
reads it), so the refusal comes with every other problem and nothing half-applies. In the offline plan the values
are placeholders that carry the digest of the committed ciphertext: equal ciphertexts are equal values (the
Pulumi CLI encrypts with a fresh nonce, so a copied ciphertext is what this finds). At `pulumi preview`/`up` they
are the decrypted values, fingerprinted with a key of the process. A refusal names config keys and key paths only.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from components.domain.model import OFFLINE_PLACEHOLDER, FleetSpec, HostSpec, RunnerSpec, VariableSpec
from components.domain.targets import DockerTarget, KubernetesTarget
from components.spec import keys
from components.spec.problems import Problems


class Reach(enum.Enum):
    """Who can read a credential once runner-fleet has delivered it."""

    PULUMI = "the machine that runs pulumi"
    MANAGER = "the runner manager"
    JOBS = "jobs"


class Role(enum.StrEnum):
    """The trust role of one use of a secret config key."""

    ENGINE_TLS = "engine-tls"
    KUBECONFIG = "kubeconfig"
    REGISTRY_AUTH = "registry-auth"
    CI_VARIABLE = "ci-variable"
    CACHE = "cache"
    GITLAB_CA = "gitlab-ca"
    GITLAB_TOKEN = "gitlab-token"
    PROVIDER = "provider"


@dataclass(frozen=True)
class RoleRule:
    """What a role is, who can read its credential, and whether its uses carry a protection level."""

    name: str
    """The role in a message."""
    reach: Reach
    """Who can read the value once delivered."""
    guards: str
    """What whoever holds it can do, said when jobs would receive it."""
    by_protection: bool = False
    """Its uses reach protected or unprotected jobs: sharing it needs one protection level."""
    by_masking: bool = False
    """Its uses are masked in job logs or not: sharing it between two of them needs one masking."""


ROLES: Mapping[Role, RoleRule] = {
    Role.ENGINE_TLS: RoleRule("Docker engine TLS material", Reach.PULUMI, "root on that Docker host"),
    Role.KUBECONFIG: RoleRule("a kubeconfig", Reach.PULUMI, "the cluster's credential"),
    Role.REGISTRY_AUTH: RoleRule("registry auth", Reach.JOBS, "the registry's credential", by_protection=True),
    Role.CI_VARIABLE: RoleRule(
        "a CI/CD variable's value", Reach.JOBS, "a CI/CD secret", by_protection=True, by_masking=True
    ),
    Role.CACHE: RoleRule("a cache credential", Reach.MANAGER, "write access to every runner's cache"),
    Role.GITLAB_CA: RoleRule("the GitLab CA bundle", Reach.JOBS, "the CA every job trusts"),
    Role.GITLAB_TOKEN: RoleRule("the GitLab provider's token", Reach.PULUMI, "the token that manages runners"),
    Role.PROVIDER: RoleRule("a provider's credential", Reach.PULUMI, "a provider's credential"),
}
"""Every role a secret config key can serve."""

SHARED: frozenset[frozenset[Role]] = frozenset(
    {
        frozenset({Role.ENGINE_TLS}),  # one CA, one client certificate for several engines
        frozenset({Role.KUBECONFIG}),  # one kubeconfig, several contexts
        frozenset({Role.CACHE}),  # the fleet's cache and a runner's own on one bucket
        frozenset({Role.REGISTRY_AUTH}),  # two runners pulling from one registry (at one protection level)
        frozenset({Role.CI_VARIABLE}),  # one secret in two projects' variables (at one protection level)
        frozenset({Role.REGISTRY_AUTH, Role.CI_VARIABLE}),  # both reach jobs (at one protection level)
        frozenset({Role.GITLAB_TOKEN, Role.PROVIDER}),  # credentials of pulumi's providers, never delivered
        frozenset({Role.PROVIDER}),
    }
)
"""The pairs of roles one credential may serve together (a role alone: two uses of that role). Any other pair is
refused. The GitLab CA shares with nothing: it reaches every job, whatever else its key holds would too."""


@dataclass(frozen=True)
class Use:
    """One place where the fleet reads a secret config key."""

    path: str
    """The stack-file key path of the reference (or the config key itself, for providers' keys)."""
    key: str
    """The secret config key."""
    role: Role
    """Its trust role here."""
    protected: bool | None = None
    """For roles with `by_protection`: whether only protected refs' jobs receive it."""
    masked: bool | None = None
    """For roles with `by_masking`: whether job logs mask it."""

    @property
    def shown(self) -> str:
        """The role, with the protection level where it has one."""
        rule = ROLES[self.role]
        shown = rule.name
        if rule.by_protection:
            shown += f" for {'protected refs only' if self.protected else 'unprotected refs'}"
        if rule.by_masking:
            shown += f", {'masked' if self.masked else 'unmasked'}"
        return shown


def conflict(first: Use, second: Use) -> str | None:
    """Why one credential cannot serve both uses, or None when it can (`SHARED`, at one protection level)."""
    a, b = ROLES[first.role], ROLES[second.role]
    if frozenset({first.role, second.role}) not in SHARED:
        outside = [rule for rule in (a, b) if rule.reach is not Reach.JOBS]
        if len(outside) == 1:
            return f"jobs would receive {outside[0].name} ({outside[0].guards}); each role needs a key of its own"
        return f"one credential serves one role; each role needs a key of its own ({a.name} and {b.name})"
    if a.by_protection and b.by_protection and first.protected != second.protected:
        return (
            "a credential of protected jobs never reaches unprotected ones; each protection level needs a key of "
            "its own"
        )
    if a.by_masking and b.by_masking and first.masked != second.masked:
        return (
            "job logs would show the masked value through the unmasked variable; mask both, or each needs a key of "
            "its own"
        )
    return None


def _host_uses(host: HostSpec) -> list[Use]:
    path, target = f"hosts.{host.key}", host.target
    if isinstance(target, DockerTarget) and target.tls is not None:
        tls = target.tls
        return [
            Use(f"{path}.docker.tls.{k.name}", getattr(tls, k.field or k.name), Role.ENGINE_TLS) for k in keys.TLS.keys
        ]
    if isinstance(target, KubernetesTarget) and target.kubeconfig:
        return [Use(f"{path}.kubernetes.kubeconfig", target.kubeconfig, Role.KUBECONFIG)]
    return []


def _runner_uses(runner: RunnerSpec, fleet: FleetSpec) -> list[Use]:
    path = f"runners.{runner.key}"
    found = []
    if runner.registry_auth:
        found.append(Use(f"{path}.registryAuth", runner.registry_auth, Role.REGISTRY_AUTH, runner.protected_only))
    if runner.cache is not None and runner.cache != fleet.cache:  # the fleet's cache is said once, under `cache`
        cache = runner.cache
        found += [Use(f"{path}.cache.{cache.type.value}.{k}", ref, Role.CACHE) for k, ref in cache.credentials]
    return found


def uses(spec: FleetSpec, variables: Sequence[tuple[str, VariableSpec]] | None = None) -> list[Use]:
    """Every use of a secret config key in the fleet: hosts, runners, the fleet's cache, variables, the GitLab CA
    (a refusal is said at the later of two uses). `variables` names each variable by its key path (`variables[i]`,
    known while parsing); without it a variable is named by its identity."""
    found = [use for host in spec.hosts for use in _host_uses(host)]
    found += [use for runner in spec.runners for use in _runner_uses(runner, spec)]
    if spec.cache is not None:
        found += [Use(f"cache.{spec.cache.type.value}.{k}", ref, Role.CACHE) for k, ref in spec.cache.credentials]
    named = variables if variables is not None else [(_variable_name(v), v) for v in spec.variables]
    found += [Use(f"{path}.secret", v.secret, Role.CI_VARIABLE, v.protected, v.masked) for path, v in named if v.secret]
    if spec.gitlab_ca is not None and spec.gitlab_ca.secret is not None:
        found.append(Use("gitlabCaBundle", spec.gitlab_ca.secret, Role.GITLAB_CA))
    return found


def _variable_name(variable: VariableSpec) -> str:
    scope = "" if variable.environment_scope == "*" else f" environmentScope {variable.environment_scope}"
    return f"variables[{variable.owner_kind.value} {variable.owner} key {variable.key}{scope}]"


def _refusals(group: Sequence[Use], *, other_keys: bool = False) -> Iterable[tuple[Use, Use, str]]:
    """(earlier, later, why) for each use that cannot share its credential with an earlier use of `group`: the
    first such earlier use only, so a key shared by many says so once per use, not once per pair. `other_keys`:
    only pairs of two keys (a key's own uses are judged by `check`)."""
    for i, later in enumerate(group):
        for earlier in group[:i]:
            why = None if other_keys and earlier.key == later.key else conflict(earlier, later)
            if why is not None:
                yield earlier, later, why
                break


def check(p: Problems, found: Sequence[Use]) -> None:
    """Refuse every secret config key that serves two roles (or one role at two protection levels), at each later
    use, naming the earlier one."""
    by_key: dict[str, list[Use]] = {}
    for use in found:
        by_key.setdefault(use.key, []).append(use)
    for group in by_key.values():
        for earlier, later, why in _refusals(group):
            p.add(
                later.path,
                f"config key {later.key!r} serves here as {later.shown}, and at {earlier.path} as {earlier.shown}: "
                f"{why}",
            )


def check_spec(
    p: Problems, spec: FleetSpec, variables: Sequence[VariableSpec | None], fingerprints: Mapping[str, str]
) -> None:
    """`check` on every use in `spec`, then `check_values` with the secret keys' `fingerprints`; `variables` as read
    (None where invalid), so that each is named `variables[i]`."""
    found = uses(spec, [(f"variables[{i}]", v) for i, v in enumerate(variables) if v is not None])
    check(p, found)
    check_values(p, [provider_use(key) for key in sorted(fingerprints) if ":" in key] + found, fingerprints)


_CIPHERTEXT_DIGEST = re.compile(r"[0-9a-f]{12}")
"""How the offline plan's placeholders end when they stand for a committed ciphertext (components/plan/
stack_file.py): its digest. Anything else (a key assumed to come from an ESC environment) has no known value."""
_SALT = secrets.token_bytes(32)
"""Fingerprints of decrypted values are keyed with a secret of this process: they tell values apart within one run
and are worth nothing outside it (a plain digest of a short password could be reversed by guessing)."""


def fingerprint(value: str) -> str | None:
    """What tells one secret value from another without keeping it: the ciphertext's digest for an offline
    placeholder, a keyed digest of the value otherwise; None when nothing is known (an ESC stand-in, an empty
    value)."""
    if value.startswith(OFFLINE_PLACEHOLDER):
        digest = value.rpartition("-")[2]
        return f"ciphertext {digest}" if _CIPHERTEXT_DIGEST.fullmatch(digest) else None
    text = value.strip()  # a PEM or a token with or without its final newline is one credential
    return f"value {hmac.new(_SALT, text.encode(), hashlib.sha256).hexdigest()}" if text else None


def fingerprints(keys: Iterable[str], read: Callable[[str], str | None]) -> dict[str, str]:
    """config key -> fingerprint of its value, for the keys whose value says something; `read` gives one value at a
    time, so no value outlives its fingerprint."""
    found = {}
    for key in sorted(keys):
        value = read(key)
        mark = fingerprint(value) if isinstance(value, str) else None
        if mark is not None:
            found[key] = mark
    return found


def check_values(p: Problems, found: Sequence[Use], marks: Mapping[str, str]) -> None:
    """Refuse each use whose key holds the same value as another key's in a role they cannot share (`marks`: config
    key -> fingerprint). Only key paths and config key names are said, never a value or its fingerprint; two uses
    of one key are `check`'s to judge."""
    by_value: dict[str, list[Use]] = {}
    for use in found:
        if use.key in marks:
            by_value.setdefault(marks[use.key], []).append(use)
    for group in by_value.values():
        for earlier, later, why in _refusals(group, other_keys=True):
            p.add(
                later.path,
                f"config key {later.key!r} (here {later.shown}) holds the same secret value as config key "
                f"{earlier.key!r} ({earlier.path}, {earlier.shown}): {why}",
            )


def provider_use(key: str) -> Use:
    """A secret config key of another namespace (`gitlab:token`, a provider's credential): pulumi's alone."""
    return Use(key, key, Role.GITLAB_TOKEN if key == "gitlab:token" else Role.PROVIDER)
