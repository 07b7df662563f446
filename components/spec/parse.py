"""Turn the raw values of the project's config keys into a frozen `FleetSpec`, or say everything that is wrong.

`parse_spec` is pure: it takes the values (keys without the `runner-fleet:` prefix) and returns a FleetSpec,
or raises `SpecError` listing every problem, one per line, each naming its key path, before any resource is
declared. Sections are read by their key tables (`keys.py`) in `hosts.py`, `runners.py` and `variables.py`;
whole-fleet rules are in `fleet_checks.py` and `extra_config.py`. The stack file contract is in README.md
("Stack file reference").
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from components.domain import rotation
from components.domain.cache import CacheSpec
from components.domain.images import mirror_problem
from components.domain.model import (
    PROJECT,
    FleetSpec,
    HostSpec,
    RunnerSpec,
    Tier,
    VariableSpec,
    default_protect,
    field_default,
)
from components.spec import autoscalers, credentials, engines, extra_config, fleet_checks, keys, names
from components.spec.caches import parse_cache, secret_refs
from components.spec.gitlab_urls import check_provider_config, parse_url
from components.spec.hosts import parse_host
from components.spec.keys import TOP_LEVEL
from components.spec.kinds import Text
from components.spec.problems import Problems, SpecError, describe, unknown_key
from components.spec.reader import read_key
from components.spec.runners import FleetContext, parse_runner
from components.spec.site_keys import parse_ca_bundle
from components.spec.variables import parse_variables

PLACEHOLDER_URL = "https://gitlab.invalid"  # only in a spec that is never returned (it has problems)


class _TooDeep:
    """A value nested beyond MAX_DEPTH (or beyond what the JSON decoder can read)."""


TOO_DEEP = _TooDeep()


def _depth_exceeds(value: object, limit: int) -> bool:
    if limit < 0:
        return True
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return any(_depth_exceeds(item, limit - 1) for item in items)


def _decode(value: object) -> object:
    """Structured config reaches the program as JSON text; tests may pass decoded values."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        except RecursionError:
            return TOO_DEEP
    return TOO_DEEP if _depth_exceeds(value, keys.MAX_DEPTH) else value


def _parse_gitlab_url(p: Problems, url: str | None, tier: Tier) -> str | None:
    clean = parse_url(p, url, tier)
    if clean is None:
        return None
    if clean.endswith("/ci"):
        p.add("gitlabUrl", "drop the legacy '/ci' suffix (gitlab-runner warns about it and it breaks submodule auth)")
    return clean


def _entries(p: Problems, raw: object, path: str, what: str) -> dict[str, Any]:
    """The entries of `hosts` or `runners`: a non-empty map of key -> entry."""
    if not isinstance(raw, dict):
        p.add(path, f"expected a map of {what}, found {describe(raw)}")
        return {}
    if not raw:
        p.add(path, f"expected at least one entry ({what})")
    return raw


def _hosts(p: Problems, raw: object, path: str, *, mirror: str | None) -> dict[str, HostSpec | None]:
    entries = _entries(p, raw, path, "host-key -> host")
    return {key: parse_host(p, key, entry, mirror) for key, entry in sorted(entries.items())}


def _runners(p: Problems, raw: object, path: str, *, fleet: FleetContext) -> list[RunnerSpec | None]:
    entries = _entries(p, raw, path, "runner-key -> runner")
    return [parse_runner(p, key, entry, fleet) for key, entry in sorted(entries.items())]


def _registry_mirror(p: Problems, top: Mapping[str, Any]) -> str | None:
    """`registryMirror`; empty (the default Pulumi.yaml declares) means none."""
    if top.get("registryMirror") == "":
        return None
    mirror = read_key(p, top, "", TOP_LEVEL.by_name["registryMirror"])
    if mirror is not None and (problem := mirror_problem(mirror)) is not None:
        p.add("registryMirror", problem)
        return None
    return mirror


def _top_level(p: Problems, values: Mapping[str, Any]) -> dict[str, Any]:
    """Our keys, structured ones decoded from the JSON text the engine passes; too deep ones left out."""
    top = {
        k: v if isinstance(TOP_LEVEL.by_name[k].kind, Text) else _decode(v)
        for k, v in values.items()
        if k in TOP_LEVEL.by_name
    }
    for key in [k for k, v in top.items() if v is TOO_DEEP]:
        p.add(key, f"nested more than {keys.MAX_DEPTH} levels deep")
        del top[key]
    return top


def parse_spec(  # noqa: PLR0913 - the one entry point; every option is keyword-only
    values: Mapping[str, Any],
    *,
    stack: str,
    secret_keys: Iterable[str] = (),
    source: str = "stack configuration",
    other_config: Mapping[str, str | None] | None = None,
    now: datetime | None = None,
    secret_fingerprints: Mapping[str, str] | None = None,
) -> FleetSpec:
    """Parse the project's config values (keys without the `runner-fleet:` prefix) into a FleetSpec.

    `secret_keys` are the keys set as secrets; `other_config` holds the fully qualified keys of other namespaces
    with their values (None for secrets): a key that looks like ours is a wrong prefix, and the GitLab provider's
    `gitlab:baseUrl` and `gitlab:insecure` say where its token goes. `secret_fingerprints` (config key, fully
    qualified for other namespaces -> `credentials.fingerprint` of its value) tell two secret keys with one value.
    Raises SpecError with every problem found; never returns a partly valid spec.
    """
    p = Problems()
    other = other_config or {}
    for key in sorted(k for k in other if ":" in k and k.split(":", 1)[1] in TOP_LEVEL.names):
        p.add(key, f"not in this project's namespace; write it as '{PROJECT}:{key.split(':', 1)[1]}'")
    secrets, config_keys = frozenset(secret_keys), frozenset(values)
    for key in sorted(secrets & set(TOP_LEVEL.names)):
        # The shape of the stack never depends on a secret value.
        p.add(key, "must not be a secret (or contain one); put secrets in their own keys and reference them")
    top = _top_level(p, {k: v for k, v in values.items() if k not in secrets})
    by_name = TOP_LEVEL.by_name

    # Each top-level key through its row of the table; the sections have parsers of their own.
    tier = read_key(p, top, "", by_name["tier"]) or field_default(FleetSpec, "tier")
    gitlab_url = _parse_gitlab_url(p, read_key(p, top, "", by_name["gitlabUrl"]), tier)
    check_provider_config(p, other, gitlab_url, tier)
    protect = read_key(p, top, "", by_name["protect"])
    mirror = _registry_mirror(p, top)
    gitlab_ca = read_key(p, top, "", by_name["gitlabCaBundle"], {"gitlabCaBundle": parse_ca_bundle})
    read_hosts = functools.partial(_hosts, mirror=mirror)
    hosts: dict[str, HostSpec | None] = read_key(p, top, "", by_name["hosts"], {"hosts": read_hosts}) or {}
    read_cache = read_key(p, top, "", by_name["cache"], {"cache": parse_cache})
    cache = read_cache if isinstance(read_cache, CacheSpec) else None
    rotation_days = read_key(p, top, "", by_name["tokenRotationDays"]) or 0
    context = FleetContext(hosts, cache, mirror, rotation_days, now or rotation.planned_moment())
    read_runners = functools.partial(_runners, fleet=context)
    runners: list[RunnerSpec | None] = read_key(p, top, "", by_name["runners"], {"runners": read_runners}) or []
    read_variables = functools.partial(parse_variables, secrets=secrets, config_keys=config_keys)
    variables: list[VariableSpec | None] = read_key(p, top, "", by_name["variables"], {"variables": read_variables})
    valid_vars = [v for v in variables or [] if v is not None]

    # The fleet's cache is checked once, under `cache`; a runner's own under its path.
    caches = [(f"runners.{r.key}.cache", r.cache) for r in runners if r is not None and r.cache not in (None, cache)]
    caches += [("cache", cache)] if cache is not None else []
    refs = fleet_checks.host_secret_refs(hosts.values())
    refs += [ref for path, c in caches if c is not None for ref in secret_refs(c, path)]
    refs += [(f"runners.{r.key}.registryAuth", r.registry_auth) for r in runners if r and r.registry_auth]
    refs += [("gitlabCaBundle", gitlab_ca.secret)] if gitlab_ca is not None and gitlab_ca.secret else []
    refs += autoscalers.secret_refs(runners)
    referenced = fleet_checks.referenced_secrets(p, refs, valid_vars, secrets, config_keys)
    for key in sorted(config_keys - set(TOP_LEVEL.names) - referenced):
        p.add(
            key,
            unknown_key(key, TOP_LEVEL.names)
            + " (or a secret referenced by a variable, a cache, registryAuth, gitlabCaBundle, docker tls or "
            "kubeconfig)",
        )
    engines.check(p, hosts, runners, secret_fingerprints)  # namespaces, ports, host directories: per machine/cluster
    fleet_checks.warn_about(p, hosts, runners)
    autoscalers.check_fleet(p, hosts, runners, gitlab_ca)  # one instance group per runner; what instances lack

    spec = FleetSpec(
        stack=stack,
        gitlab_url=gitlab_url or PLACEHOLDER_URL,
        hosts=tuple(h for h in hosts.values() if h is not None),
        runners=tuple(r for r in runners if r is not None),
        variables=tuple(sorted(valid_vars, key=lambda v: v.identity)),
        cache=cache,
        gitlab_ca=gitlab_ca,
        registry_mirror=mirror,
        token_rotation_days=rotation_days,
        tier=tier,
        protect=default_protect(tier) if protect is None else protect,
        secret_keys=frozenset(referenced),
        warnings=tuple(p.warnings),
    )
    # The extraConfig policy and the runner's config schema need the rendered files; they run on every valid
    # part, so their problems are reported together with the structural ones.
    extra_config.check(p, spec)
    names.check(p, spec)  # every derived name against every other (spec/names.py)
    credentials.check_spec(p, spec, variables or [], secret_fingerprints or {})
    if p.problems:
        raise SpecError(source, p.problems, p.missing_secrets)
    return spec
