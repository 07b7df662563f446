"""Read `runners.<r>.autoscaler`: a docker-autoscaler runner's plugin, instance group, connection and idle policies.

The keys are in `autoscaler_keys` (AUTOSCALER, AUTOSCALER_CONNECTOR, AUTOSCALER_POLICY); the model and the facts
from gitlab-runner's source are in `components/domain/autoscaler.py`. This module adds what ties keys together:
- `plugin` must be pinned to one version (MAJOR.MINOR.PATCH), the only constraint that selects exactly one;
- `pluginConfig` is the plugin's own map: for GitLab's three plugins every key is checked against the plugin's
  table, for any other plugin it passes through with a warning. A value is plain text, a number, a flag, or
  `{secret: <configKey>}`; anything that looks like a credential in plain text is refused without being repeated;
- each policy's `periods` are 5-field unix-cron expressions and its `timezone` an IANA name (zoneinfo's);
- an autoscaler belongs to a runner on a Docker host, and one instance group to one runner of the fleet.
Runner docs: https://docs.gitlab.com/runner/executors/docker_autoscaler/ and
https://docs.gitlab.com/runner/configuration/advanced-configuration/#the-runnersautoscaler-section
"""

from __future__ import annotations

import functools
import json
import math
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from typing import Any

from components.domain.autoscaler import (
    OFFICIAL_PLUGINS,
    AutoscalerSpec,
    ConnectorConfig,
    PluginProblem,
    PluginRef,
    ScalingPolicy,
    parse_plugin,
)
from components.domain.model import HostSpec, RunnerSpec
from components.domain.site import CaBundle
from components.domain.targets import DockerTarget, KubernetesTarget
from components.spec import autoscaler_keys
from components.spec.credential_shapes import holds_secret
from components.spec.problems import CREDENTIAL_MESSAGE, Problems, credential_shape, describe, text_problem, unknown_key
from components.spec.reader import read_section
from components.spec.site_keys import read_secret_ref

MAX_POLICIES = 50
MAX_PERIODS = 50
MAX_PLUGIN_KEYS = 100
MAX_PLUGIN_TEXT = 1024
MAX_NESTING = 3
PLUGIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")
"""A plugin_config key: the plugins' settings are JSON object keys in snake_case (`resource_group_name`)."""


# --- periods and time zones ------------------------------------------------------------------------------------

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
CRON_FIELDS: tuple[tuple[str, int, int, Mapping[str, int]], ...] = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, {name: i + 1 for i, name in enumerate(_MONTHS)}),
    ("day of week", 0, 7, {name: i for i, name in enumerate(_DAYS)}),  # 0 and 7 are Sunday
)
"""The unix-cron fields the runner's `periods` take, with their ranges and names (advanced-configuration.md,
"Periods syntax")."""
_ITEM = re.compile(
    r"(?P<base>\*|(?P<a>[0-9]{1,2}|[A-Za-z]{3})(?:-(?P<b>[0-9]{1,2}|[A-Za-z]{3}))?)(?:/(?P<step>[0-9]{1,2}))?"
)


def _cron_value(text: str, low: int, high: int, names: Mapping[str, int]) -> int | None:
    value = names.get(text.lower()) if text.isalpha() else int(text)
    return value if value is not None and low <= value <= high else None


def _cron_item_problem(item: str, field: tuple[str, int, int, Mapping[str, int]]) -> str | None:
    name, low, high, names = field
    match = _ITEM.fullmatch(item)
    spelled = "*, a number, a range a-b, a list a,b, each with an optional /step"
    if match is None or (match["step"] is not None and match["a"] is not None and match["b"] is None):
        return f"the {name} field {item!r}: expected {spelled}"
    bounds = [_cron_value(part, low, high, names) for part in (match["a"], match["b"]) if part is not None]
    if None in bounds:
        spelled_names = f" or {next(iter(names))}-{list(names)[-1]}" if names else ""
        return f"the {name} field {item!r}: values are {low}-{high}{spelled_names}"
    if len(bounds) == 2 and bounds[0] > bounds[1]:  # type: ignore[operator]
        return f"the {name} field {item!r}: a range runs from low to high"
    if match["step"] is not None and not 0 < int(match["step"]) <= high:
        return f"the {name} field {item!r}: a step is 1-{high}"
    return None


def cron_problem(expression: str) -> str | None:
    """What makes `expression` not a 5-field unix-cron period, or None."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        return (
            f"expected 5 fields (minute hour day-of-month month day-of-week) like '* 7-19 * * mon-fri', "
            f"found {len(fields)}"
        )
    for text, field in zip(fields, CRON_FIELDS, strict=True):
        for item in text.split(","):
            if (problem := _cron_item_problem(item, field)) is not None:
                return problem
    return None


@functools.lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """The IANA time zone names zoneinfo knows (the system's database or the tzdata package)."""
    return frozenset(zoneinfo.available_timezones())


def _check_policy(p: Problems, path: str, values: dict[str, Any]) -> None:
    periods = values.get("periods", ())
    if len(periods) > MAX_PERIODS:
        p.add(f"{path}.periods", f"at most {MAX_PERIODS} periods")
    for i, period in enumerate(periods[:MAX_PERIODS]):
        if (problem := cron_problem(period)) is not None:
            p.add(f"{path}.periods[{i}]", problem)
    zone = values.get("timezone")
    if zone is not None and zone not in time_zones():
        close = [z for z in time_zones() if z.lower() == zone.lower()]
        hint = f"; did you mean {close[0]!r}?" if close else ""
        p.add(
            f"{path}.timezone", f"expected an IANA time zone such as Europe/Berlin or UTC, found {describe(zone)}{hint}"
        )
    if "scale_factor_limit" in values and not values.get("scale_factor"):
        p.warn(f"{path}.scaleFactorLimit", "has no effect without a scaleFactor above 0")


def parse_policies(p: Problems, raw: object, path: str) -> tuple[ScalingPolicy, ...] | None:
    """`policies`: a list of idle policies, each checked; None when any is invalid."""
    if not isinstance(raw, list):
        p.add(
            path, f"expected a list of policies ({autoscaler_keys.AUTOSCALER_POLICY.expected}), found {describe(raw)}"
        )
        return None
    if len(raw) > MAX_POLICIES:
        p.add(path, f"at most {MAX_POLICIES} policies")
        return None
    before = len(p.problems)
    policies = []
    for i, item in enumerate(raw):
        values = read_section(p, item, f"{path}[{i}]", autoscaler_keys.AUTOSCALER_POLICY)
        if values is not None:
            _check_policy(p, f"{path}[{i}]", values)
            policies.append(ScalingPolicy(**values))
    return tuple(policies) if len(p.problems) == before else None


# --- the connection ------------------------------------------------------------------------------------------


def parse_connector(p: Problems, raw: object, path: str) -> ConnectorConfig | None:
    """`connectorConfig`: a password only with useStaticCredentials, and by reference."""
    before = len(p.problems)
    values = read_section(p, raw, path, autoscaler_keys.AUTOSCALER_CONNECTOR, {"password": read_secret_ref})
    if values is None:
        return None
    static = values.get("use_static_credentials", False)
    if static and "password" not in values and "password" not in (raw if isinstance(raw, dict) else {}):
        p.add(
            f"{path}.password",
            "useStaticCredentials: true needs password: {secret: <configKey>} (key_path and "
            "its key file are not delivered to the manager)",
        )
    if "password" in values and not static:
        p.add(f"{path}.password", "is used only with useStaticCredentials: true (else the plugin provisions keys)")
    return ConnectorConfig(**values) if len(p.problems) == before else None


# --- the plugin's own settings -------------------------------------------------------------------------------


SECRET_BY_NAME = (
    "by its name holds a credential, which config.toml would show in plain text; write {secret: <configKey>}"
)


def _text_problem(key: str, value: str) -> str | None:
    if len(value) > MAX_PLUGIN_TEXT:
        return f"at most {MAX_PLUGIN_TEXT} characters, found {len(value)}"
    if credential_shape(value):
        return CREDENTIAL_MESSAGE
    return SECRET_BY_NAME if holds_secret(key, value) else text_problem(value)


def _scalar_problem(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -(2**53) <= value <= 2**53 else "a whole number beyond what JSON carries exactly (2^53)"
    return None if math.isfinite(value) else "a finite number"  # type: ignore[arg-type]


def _value_problem(key: str, value: object, depth: int = 0) -> str | None:
    """What makes a plugin_config value unfit: a credential in plain text, a control character, a shape JSON does
    not carry the same way to the plugin (null, a huge or non-finite number), or too much of it."""
    if isinstance(value, str):
        return _text_problem(key, value)
    if isinstance(value, bool | int | float):
        return _scalar_problem(value)
    if isinstance(value, list) and depth < MAX_NESTING:
        return next((found for item in value if (found := _value_problem(key, item, depth + 1))), None)
    if (
        isinstance(value, dict)
        and depth < MAX_NESTING
        and all(isinstance(k, str) and PLUGIN_KEY.fullmatch(k) for k in value)
    ):
        return next((found for k, item in value.items() if (found := _value_problem(k, item, depth + 1))), None)
    return (
        "expected text, a number, true/false, a list or a map of those, or {secret: <configKey>}, "
        f"found {describe(value)}"
    )


def _official_problems(p: Problems, path: str, plugin: str, settings: Mapping[str, Any]) -> None:
    table = OFFICIAL_PLUGINS[plugin]
    for key, value in settings.items():
        if key in table.refused:
            p.add(f"{path}.{key}", table.refused[key])
        elif key not in table.known:
            p.add(f"{path}.{key}", f"the {plugin} plugin has no such setting; " + unknown_key(key, table.known))
        elif not isinstance(value, str | dict):
            p.add(f"{path}.{key}", f"expected text (the {plugin} plugin's {key}), found {describe(value)}")
    for key in table.required:
        if key not in settings:
            p.add(
                f"{path}.{key}",
                f"is required by the {plugin} plugin (together {', '.join(table.required)} name its instance group)",
            )


def _read_settings(p: Problems, raw: dict[Any, Any], path: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The plain values and the (key, secret config key) pairs of a plugin_config map, each value checked."""
    plain: dict[str, Any] = {}
    secrets: list[tuple[str, str]] = []
    for key, value in raw.items():
        where = f"{path}.{key}"
        if not isinstance(key, str) or not PLUGIN_KEY.fullmatch(key) or text_problem(key):
            p.add(where, "a setting's name is a letter or '_', then letters, digits, '_', '.', '-' (at most 64)")
        elif isinstance(value, dict) and "secret" in value:
            ref = read_secret_ref(p, value, where)
            if ref is not None:
                secrets.append((key, ref))
        elif (problem := _value_problem(key, value)) is not None:
            p.add(where, problem)
        else:
            plain[key] = value
    return plain, secrets


def parse_plugin_config(
    p: Problems, raw: object, path: str, plugin: PluginRef | None
) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    """(canonical JSON of the plain values, (key, secret config key) pairs); None with problems."""
    if not isinstance(raw, dict) or not raw:
        p.add(
            path,
            f"expected a map of the plugin's settings, e.g. {{name: <group>, region: <region>}}, found {describe(raw)}",
        )
        return None
    if len(raw) > MAX_PLUGIN_KEYS:
        p.add(path, f"at most {MAX_PLUGIN_KEYS} settings")
        return None
    before = len(p.problems)
    plain, secrets = _read_settings(p, raw, path)
    if plugin is not None and plugin.official is not None:
        _official_problems(p, path, plugin.official, raw)
    elif plugin is not None:
        p.warn(
            path,
            f"{plugin.name} is not one of GitLab's plugins ({', '.join(OFFICIAL_PLUGINS)}): its settings pass to it "
            "unchecked",
        )
    if len(p.problems) != before:
        return None
    return json.dumps(plain, sort_keys=True), tuple(sorted(secrets))


# --- the autoscaler -----------------------------------------------------------------------------------------


def _plugin(p: Problems, text: str | None, path: str) -> PluginRef | None:
    if text is None:
        return None
    try:
        return parse_plugin(text)
    except PluginProblem as exc:
        p.add(path, str(exc))
        return None


def _keep(p: Problems, raw: object, path: str) -> object:
    return raw  # read with the plugin it belongs to, once the plugin is known


def parse_autoscaler(p: Problems, raw: object, path: str) -> AutoscalerSpec | None:
    """`runners.<r>.autoscaler`; None with problems when anything in it is invalid."""
    before = len(p.problems)
    nested = {"pluginConfig": _keep, "connectorConfig": parse_connector, "policies": parse_policies}
    values = read_section(p, raw, path, autoscaler_keys.AUTOSCALER, nested)
    if values is None:
        return None
    plugin = _plugin(p, values.pop("plugin", None), f"{path}.plugin")
    settings = values.pop("plugin_config", None)
    config = parse_plugin_config(p, settings, f"{path}.pluginConfig", plugin) if settings is not None else None
    if len(p.problems) != before or plugin is None or config is None or "max_instances" not in values:
        return None
    values["plugin_config"], values["plugin_secrets"] = config
    return AutoscalerSpec(plugin=plugin, **values)


def check_runner(p: Problems, path: str, raw: object, values: Mapping[str, Any], host: HostSpec | None) -> None:
    """An autoscaler (as written, valid or not) runs on a Docker host's manager, and its jobs see no host directory
    (instances come and go)."""
    if not isinstance(raw, dict) or raw.get("autoscaler") is None:
        return
    if host is not None and isinstance(host.target, KubernetesTarget):
        p.add(
            f"{path}.autoscaler",
            "docker-autoscaler runs on a Docker host's manager; on a Kubernetes host job pods already scale with the "
            "cluster (its node autoscaler): place this runner on a Docker host or remove autoscaler",
        )
    if values.get("host_directories"):
        p.add(
            f"{path}.hostDirectories",
            "an autoscaled runner's jobs run on cloud instances that come and go: they get no host directory",
        )


# --- the fleet ------------------------------------------------------------------------------------------------


def _autoscaled(runners: Iterable[RunnerSpec | None]) -> list[RunnerSpec]:
    return [r for r in runners if r is not None and r.autoscaler is not None]


def secret_refs(runners: Iterable[RunnerSpec | None]) -> list[tuple[str, str]]:
    """(key path, config key) of every secret the autoscalers name."""
    refs = []
    for runner in _autoscaled(runners):
        scaler = runner.autoscaler
        assert scaler is not None
        path = f"runners.{runner.key}.autoscaler"
        refs += [(f"{path}.pluginConfig.{key}", ref) for key, ref in scaler.plugin_secrets]
        if scaler.connector.password:
            refs.append((f"{path}.connectorConfig.password", scaler.connector.password))
    return refs


def check_fleet(
    p: Problems, hosts: Mapping[str, HostSpec | None], runners: Iterable[RunnerSpec | None], ca: CaBundle | None
) -> None:
    """One instance group per runner; what a fixed host gives its jobs and an instance does not; capacity."""
    seen: dict[tuple[str, str], str] = {}
    for runner in _autoscaled(runners):
        scaler = runner.autoscaler
        assert scaler is not None
        path = f"runners.{runner.key}.autoscaler"
        group = scaler.instance_group
        if group in seen:
            p.add(
                f"{path}.pluginConfig",
                f"names the instance group of runners.{seen[group]} too: each runner needs its own (two taskscalers "
                "scaling one group remove each other's instances; runner docs, docker_autoscaler.md)",
            )
        seen.setdefault(group, runner.key)
        host = hosts.get(runner.host)
        if ca is not None and host is not None and isinstance(host.target, DockerTarget):
            p.warn(
                path,
                "gitlabCaBundle reaches a fixed host's jobs as a volume on its engine, which instances do not have: "
                "jobs get it from gitlab-runner (CI_SERVER_TLS_CA_FILE); put the CA into the instance image's "
                "trust store for other tools",
            )
        if host is not None and host.concurrent < scaler.max_instances * scaler.capacity_per_instance:
            p.warn(
                f"hosts.{host.key}.concurrent",
                f"{host.concurrent} caps runner {runner.key!r} below maxInstances x capacityPerInstance "
                f"({scaler.max_instances * scaler.capacity_per_instance} jobs)",
            )
