"""runners.<r>.autoscaler: every wrong value is one precise problem at its key path, and nothing secret is echoed.

Oracles: gitlab-runner's own config schema (every accepted autoscaler renders schema-valid), the runner docs'
period examples (advanced-configuration.md, "Periods syntax"), zoneinfo's IANA database, and the plugins' keys as
the runner docs use them (executors/docker_autoscaler.md).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from components.spec import SpecError, parse_spec
from components.spec.autoscalers import cron_problem
from tests.fleets import AUTOSCALED, K8S_MIXED
from tests.harness import rendered, spec_of, validate_text

SCALER = "runners.images.autoscaler"
Edit = Callable[[dict[str, Any]], None]


def _scaler(values: dict[str, Any]) -> dict[str, Any]:
    scaler: dict[str, Any] = values["runners"]["images"]["autoscaler"]
    return scaler


def _set(*path: str | int, value: Any) -> Edit:
    def edit(values: dict[str, Any]) -> None:
        node: Any = _scaler(values)
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return edit


def _drop(key: str) -> Edit:
    return lambda values: _scaler(values).pop(key)


def _problems(edit: Edit, secret_keys: tuple[str, ...] = ()) -> tuple[str, ...]:
    values = copy.deepcopy(AUTOSCALED)
    edit(values)
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test", secret_keys=secret_keys)
    return caught.value.problems


HOSTILE: list[tuple[str, Edit, str, str]] = [
    # (id, edit, the key path named, what the message says)
    ("unpinned", _set("plugin", value="aws"), f"{SCALER}.plugin", "'aws' is not pinned"),
    ("latest", _set("plugin", value="aws:latest"), f"{SCALER}.plugin", "is not pinned"),
    ("range", _set("plugin", value="aws:1.0"), f"{SCALER}.plugin", "newest 1.0.x"),
    ("digest", _set("plugin", value="aws@sha256:" + "0" * 64), f"{SCALER}.plugin", "not a digest"),
    ("plugin not text", _set("plugin", value=["aws:1.0.0"]), f"{SCALER}.plugin", "found a list"),
    ("no plugin", _drop("plugin"), f"{SCALER}.plugin", "is required"),
    ("no maxInstances", _drop("maxInstances"), f"{SCALER}.maxInstances", "0 would mean no limit"),
    ("maxInstances zero", _set("maxInstances", value=0), f"{SCALER}.maxInstances", "must be >= 1"),
    ("maxInstances huge", _set("maxInstances", value=10**30), f"{SCALER}.maxInstances", "must be <= 10000"),
    ("maxInstances text", _set("maxInstances", value="20"), f"{SCALER}.maxInstances", "expected a whole number"),
    ("maxInstances bool", _set("maxInstances", value=True), f"{SCALER}.maxInstances", "found boolean true"),
    ("capacity zero", _set("capacityPerInstance", value=0), f"{SCALER}.capacityPerInstance", "must be >= 1"),
    ("capacity float", _set("capacityPerInstance", value=1.5), f"{SCALER}.capacityPerInstance", "whole number"),
    ("useCount negative", _set("maxUseCount", value=-1), f"{SCALER}.maxUseCount", "must be >= 0"),
    ("unknown key", _set("maxInstance", value=3), f"{SCALER}.maxInstance", "did you mean 'maxInstances'"),
    ("snake_case key", _set("max_instances", value=3), f"{SCALER}.max_instances", "unknown key"),
    ("not a map", lambda v: v["runners"]["images"].update(autoscaler="aws:1.0.0"), SCALER, "expected a map"),
    ("pluginConfig missing", _drop("pluginConfig"), f"{SCALER}.pluginConfig", "is required"),
    ("pluginConfig empty", _set("pluginConfig", value={}), f"{SCALER}.pluginConfig", "expected a map"),
    (
        "aws key unknown",
        _set("pluginConfig", "regoin", value="eu-west-1"),
        f"{SCALER}.pluginConfig.regoin",
        "did you mean 'region'",
    ),
    ("aws name missing", lambda v: _scaler(v)["pluginConfig"].pop("name"), f"{SCALER}.pluginConfig.name", "required"),
    (
        "aws credentials file",
        _set("pluginConfig", "credentials_file", value="/root/.aws/credentials"),
        f"{SCALER}.pluginConfig.credentials_file",
        "instance profile",
    ),
    ("aws name a number", _set("pluginConfig", "name", value=7), f"{SCALER}.pluginConfig.name", "expected text"),
    (
        "secret pasted",
        _set("pluginConfig", "region", value="AKIAIOSFODNN7EXAMPLEKEY"),
        f"{SCALER}.pluginConfig.region",
        "looks like a credential",
    ),
    (
        "secret by name",
        _set("pluginConfig", "client_secret", value="hunter2hunter2"),
        f"{SCALER}.pluginConfig.client_secret",
        "{secret: <configKey>}",
    ),
    (
        "secret ref with a value",
        _set("pluginConfig", "region", value={"secret": "glpat-0123456789abcdefghij"}),
        f"{SCALER}.pluginConfig.region",
        "looks like a secret value itself",
    ),
    ("null value", _set("pluginConfig", "region", value=None), f"{SCALER}.pluginConfig.region", "found nothing"),
    (
        "control character",
        _set("pluginConfig", "region", value="eu-west-1\u202e"),
        f"{SCALER}.pluginConfig.region",
        "U+202E",
    ),
    (
        "connector unknown key",
        _set("connectorConfig", "keyPath", value="/root/.ssh/id_ed25519"),
        f"{SCALER}.connectorConfig.keyPath",
        "unknown key",
    ),
    (
        "connector snake_case",
        _set("connectorConfig", "use_external_addr", value=True),
        f"{SCALER}.connectorConfig.use_external_addr",
        "did you mean 'useExternalAddr'",
    ),
    ("winrm", _set("connectorConfig", "protocol", value="winrm"), f"{SCALER}.connectorConfig.protocol", "ssh"),
    ("windows", _set("connectorConfig", "os", value="windows"), f"{SCALER}.connectorConfig.os", "linux"),
    ("port", _set("connectorConfig", "protocolPort", value=70000), f"{SCALER}.connectorConfig.protocolPort", "65535"),
    (
        "plain password",
        _set("connectorConfig", "password", value="hunter2"),
        f"{SCALER}.connectorConfig.password",
        "in plain text is refused",
    ),
    (
        "static credentials without password",
        _set("connectorConfig", "useStaticCredentials", value=True),
        f"{SCALER}.connectorConfig.password",
        "needs password",
    ),
    ("timeout", _set("connectorConfig", "timeout", value="10 minutes"), f"{SCALER}.connectorConfig.timeout", "20m"),
    ("policies not a list", _set("policies", value={"idleCount": 1}), f"{SCALER}.policies", "expected a list"),
    ("bad cron", _set("policies", 0, "periods", value=["* 25 * * *"]), f"{SCALER}.policies[0].periods[0]", "0-23"),
    (
        "cron fields",
        _set("policies", 0, "periods", value=["* 7-19 * *"]),
        f"{SCALER}.policies[0].periods[0]",
        "expected 5 fields",
    ),
    (
        "cron 6 fields",
        _set("policies", 0, "periods", value=["0 * 7-19 * * mon-fri"]),
        f"{SCALER}.policies[0].periods[0]",
        "found 6",
    ),
    (
        "cron reversed",
        _set("policies", 0, "periods", value=["* 19-7 * * *"]),
        f"{SCALER}.policies[0].periods[0]",
        "low to high",
    ),
    (
        "cron day",
        _set("policies", 0, "periods", value=["* * * * fun"]),
        f"{SCALER}.policies[0].periods[0]",
        "0-7 or sun-sat",
    ),
    (
        "periods not a list",
        _set("policies", 0, "periods", value="* * * * *"),
        f"{SCALER}.policies[0].periods",
        "list of strings",
    ),
    (
        "bad timezone",
        _set("policies", 0, "timezone", value="Mars/Olympus"),
        f"{SCALER}.policies[0].timezone",
        "IANA time zone",
    ),
    (
        "timezone case",
        _set("policies", 0, "timezone", value="europe/berlin"),
        f"{SCALER}.policies[0].timezone",
        "did you mean 'Europe/Berlin'",
    ),
    (
        "timezone path",
        _set("policies", 0, "timezone", value="../../etc/passwd"),
        f"{SCALER}.policies[0].timezone",
        "IANA",
    ),
    ("idleTime number", _set("policies", 0, "idleTime", value=1200), f"{SCALER}.policies[0].idleTime", "like 20m"),
    ("idleTime huge", _set("policies", 0, "idleTime", value="99999h"), f"{SCALER}.policies[0].idleTime", "30 days"),
    ("idleCount", _set("policies", 0, "idleCount", value=-3), f"{SCALER}.policies[0].idleCount", ">= 0"),
    ("idleCount huge", _set("policies", 0, "idleCount", value=2**63), f"{SCALER}.policies[0].idleCount", "10000"),
    (
        "scaleFactor",
        _set("policies", 0, "scaleFactor", value=float("nan")),
        f"{SCALER}.policies[0].scaleFactor",
        "number",
    ),
    (
        "scaleFactor inf",
        _set("policies", 0, "scaleFactor", value=float("inf")),
        f"{SCALER}.policies[0].scaleFactor",
        "<= 100",
    ),
    (
        "preemptive text",
        _set("policies", 0, "preemptiveMode", value="yes"),
        f"{SCALER}.policies[0].preemptiveMode",
        "true or false",
    ),
    ("policy key", _set("policies", 0, "idle_count", value=1), f"{SCALER}.policies[0].idle_count", "idleCount"),
]


@pytest.mark.parametrize(("edit", "path", "says"), [h[1:] for h in HOSTILE], ids=[h[0] for h in HOSTILE])
def test_each_wrong_value_is_named_at_its_key(edit: Edit, path: str, says: str) -> None:
    problems = _problems(edit)
    assert any(line.startswith(f"{path}: ") and says in line for line in problems), problems


def test_a_secret_pasted_anywhere_is_never_repeated() -> None:
    token = "glpat-CANARYabcdefghij0123"
    edits = [
        _set("pluginConfig", "region", value=token),
        _set("pluginConfig", "notes", value=[f"x {token}"]),
        _set("plugin", value=f"{token}:1.0.0"),
        _set("connectorConfig", "username", value=token),
        _set("policies", 0, "timezone", value=token),
        _set("policies", 0, "periods", value=[token]),
    ]
    for edit in edits:
        problems = _problems(edit)
        assert problems and not any("CANARY" in line for line in problems), problems


def test_an_autoscaler_on_a_kubernetes_host_is_refused_naming_the_key() -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["runners"]["eu-images"]["autoscaler"] = copy.deepcopy(_scaler(AUTOSCALED))
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    (line,) = [p for p in caught.value.problems if p.startswith("runners.eu-images.autoscaler: ")]
    assert "Docker host" in line


def test_an_autoscaled_runner_gets_no_host_directory() -> None:
    values = copy.deepcopy(AUTOSCALED)
    values["runners"]["unit"]["autoscaler"] = copy.deepcopy(_scaler(AUTOSCALED))
    values["runners"]["unit"]["autoscaler"]["pluginConfig"]["name"] = "unit-group"
    values["runners"]["unit"]["hostDirectories"] = [{"hostPath": "/srv/runner-fleet/data", "mountPath": "/data"}]
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    assert any(p.startswith("runners.unit.hostDirectories: ") and "instances" in p for p in caught.value.problems)


def test_two_runners_never_share_an_instance_group() -> None:
    values = copy.deepcopy(AUTOSCALED)
    values["runners"]["unit"]["autoscaler"] = copy.deepcopy(_scaler(AUTOSCALED))
    values["runners"]["unit"]["autoscaler"]["plugin"] = "registry.gitlab.com/gitlab-org/fleeting/plugins/aws:1.0.1"
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    assert any(
        p.startswith("runners.unit.autoscaler.pluginConfig: ") and "runners.images" in p for p in caught.value.problems
    )
    values["runners"]["unit"]["autoscaler"]["pluginConfig"]["name"] = "acme-ci-tests"
    parse_spec(values, stack="test")


def test_a_plugin_runner_fleet_does_not_know_passes_through_with_a_warning() -> None:
    values = copy.deepcopy(AUTOSCALED)
    _scaler(values)["plugin"] = "registry.gitlab.com/hetznercloud/fleeting-plugin-hetzner/hetzner:1.0.0"
    _scaler(values)["pluginConfig"] = {
        "name": "ci",
        "location": "fsn1",
        "server_type": "cpx31",
        "labels": {"team": "platform"},
        "token": {"secret": "hcloudToken"},
    }
    spec = parse_spec({**values, "hcloudToken": "[secret]"}, stack="test", secret_keys=("hcloudToken",))
    assert any(w.startswith(f"{SCALER}.pluginConfig: ") and "unchecked" in w for w in spec.warnings)
    text = rendered(spec, "build-1")
    assert 'token = "[secret]"' in text and 'server_type = "cpx31"' in text
    assert not validate_text(text)


def test_a_referenced_secret_must_be_set_as_a_secret() -> None:
    def edit(values: dict[str, Any]) -> None:
        _scaler(values)["plugin"] = "registry.corp.test/ci/fleeting-plugin-x:1.2.3"
        _scaler(values)["pluginConfig"]["api_token"] = {"secret": "missingKey"}

    problems = _problems(edit)
    assert any(p.startswith(f"{SCALER}.pluginConfig.api_token: ") and "missingKey" in p for p in problems)


def test_the_documented_periods_are_accepted() -> None:
    """advanced-configuration.md's examples (its 6-field `1 * * * * *` contradicts its own 5-field rule)."""
    for period in [
        "* * * * *",
        "* 8-15 * * mon-fri",
        "* 0-12 * * *",
        "0-30 13,16 * * SUN",
        "*/15 7-19/2 1-31 jan-dec 0-7",
    ]:
        assert cron_problem(period) is None, period


def test_every_accepted_autoscaler_renders_schema_valid_with_go_durations() -> None:
    values = copy.deepcopy(AUTOSCALED)
    _scaler(values)["connectorConfig"] |= {"protocol": "ssh", "protocolPort": 2222, "os": "linux", "arch": "arm64"}
    _scaler(values)["connectorConfig"] |= {"timeout": "10m", "keepalive": "30s"}
    _scaler(values)["policies"].append(
        {"idleCount": 0, "idleTime": "0s", "scaleFactor": 0.5, "scaleFactorLimit": 10, "preemptiveMode": False}
    )
    text = rendered(spec_of(values), "build-1")
    assert not validate_text(text)
    assert 'timeout = "10m0s"' in text and 'keepalive = "30s"' in text and 'idle_time = "0s"' in text


def test_an_autoscaler_with_a_gitlab_ca_warns_that_instances_lack_the_volume() -> None:
    from tests.fleets import GITLAB_CA

    spec = spec_of({**copy.deepcopy(AUTOSCALED), "gitlabCaBundle": GITLAB_CA})
    assert any(w.startswith(f"{SCALER}: ") and "CI_SERVER_TLS_CA_FILE" in w for w in spec.warnings)
    text = rendered(spec, "build-1")
    images, unit = text.split("[[runners]]")[1:]
    assert "/etc/gitlab-runner/certs:ro" not in images and "/etc/gitlab-runner/certs:ro" in unit
    assert not validate_text(text)


def test_every_autoscaler_key_fills_a_field_of_its_model() -> None:
    import dataclasses

    from components.domain import autoscaler as model
    from components.spec import autoscaler_keys

    tables = [
        (autoscaler_keys.AUTOSCALER, model.AutoscalerSpec),
        (autoscaler_keys.AUTOSCALER_CONNECTOR, model.ConnectorConfig),
        (autoscaler_keys.AUTOSCALER_POLICY, model.ScalingPolicy),
    ]
    for section, cls in tables:
        fields = {f.name for f in dataclasses.fields(cls)}
        for key in section.keys:
            assert key.field in fields, f"{key.name} -> {key.field} is not a field of {cls.__name__}"


@pytest.mark.parametrize("where", ["runner", "fleet"])
def test_an_autoscaled_runner_never_rotates_its_token(where: str) -> None:
    """A rotation keeps the retiring registration in config.toml beside the new one: two taskscalers of one instance
    group, the second removing the first one's instances (gitlab-runner executors/internal/autoscaler/provider.go)."""
    key = "runners.images.tokenRotationDays" if where == "runner" else "runners.images.autoscaler"

    def rotate(values: dict[str, Any]) -> None:
        (values["runners"]["images"] if where == "runner" else values)["tokenRotationDays"] = 7

    problems = _problems(rotate)
    assert any(x.startswith(f"{key}: token rotation") and "taskscalers" in x for x in problems), problems

    def opt_out(values: dict[str, Any]) -> None:  # the documented way out
        rotate(values)
        values["runners"]["images"]["tokenRotationDays"] = 0

    values = copy.deepcopy(AUTOSCALED)
    opt_out(values)
    parse_spec(values, stack="test")
