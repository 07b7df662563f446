"""cache and runners.<r>.cache: the distributed cache, credentials only as secret references."""

from __future__ import annotations

import copy
import tomllib
from typing import Any

import pytest

from components.render import config_toml
from components.render.schema import errors
from components.spec import SpecError, parse_spec
from tests.fleets import FLEET
from tests.harness import manager_of

SECRETS = ("cacheAccessKey", "cacheSecretKey")
S3 = {
    "type": "s3",
    "shared": True,
    "path": "runners",
    "s3": {
        "serverAddress": "minio.acme.test:9000",
        "bucketName": "ci-cache",
        "accessKey": {"secret": "cacheAccessKey"},
        "secretKey": {"secret": "cacheSecretKey"},
    },
}


def _values(cache: Any = None, runner_cache: Any = None, runner: str = "unit") -> dict[str, Any]:
    values = copy.deepcopy(FLEET)
    values.update({key: "[secret]" for key in SECRETS})
    if cache is not None:
        values["cache"] = cache
    if runner_cache is not None:
        values["runners"][runner]["cache"] = runner_cache
    return values


def _spec(values: dict[str, Any]) -> Any:
    return parse_spec(values, stack="test", secret_keys=SECRETS)


def _problems(values: dict[str, Any]) -> list[str]:
    with pytest.raises(SpecError) as caught:
        _spec(values)
    return list(caught.value.problems)


def test_a_fleet_cache_reaches_every_runner_unless_one_opts_out() -> None:
    spec = _spec(_values(cache=S3, runner_cache={}, runner="shared"))
    by_key = {r.key: r for r in spec.runners}
    assert by_key["unit"].cache is not None and by_key["unit"].cache.s3 is not None
    assert by_key["shared"].cache is None, "{} opts out of the fleet's cache"
    assert spec.secret_keys >= set(SECRETS)


def test_credentials_reach_config_toml_only_as_the_secret_values_given() -> None:
    spec = _spec(_values(runner_cache=S3))
    manager = manager_of(spec, "edge-1")
    assert config_toml.secret_keys(manager) == SECRETS
    tokens = config_toml.placeholder_tokens(manager)
    shown = tomllib.loads(config_toml.render(manager, tokens))
    (unit,) = [r for r in shown["runners"] if r["name"] == "test-unit"]
    assert unit["cache"] == {
        "Type": "s3",
        "Path": "runners",
        "Shared": True,
        "s3": {
            "ServerAddress": "minio.acme.test:9000",
            "BucketName": "ci-cache",
            "Insecure": False,
            "AuthenticationType": "access-key",
            "AccessKey": "[secret]",
            "SecretKey": "[secret]",
        },
    }
    real = tomllib.loads(config_toml.render(manager, tokens, {"cacheAccessKey": "AK", "cacheSecretKey": "SK"}))
    (unit,) = [r for r in real["runners"] if r["name"] == "test-unit"]
    assert (unit["cache"]["s3"]["AccessKey"], unit["cache"]["s3"]["SecretKey"]) == ("AK", "SK")
    assert errors(real) == []


@pytest.mark.parametrize(
    ("cache", "key", "message"),
    [
        (
            {**S3, "s3": {**S3["s3"], "accessKey": "AKIAIOSFODNN7EXAMPLE"}},
            "runners.unit.cache.s3.accessKey",
            "plain text",
        ),
        ({**S3, "s3": {**S3["s3"], "secretKey": {"secret": "nowhere"}}}, "runners.unit.cache.s3.secretKey", "not set"),
        (
            {**S3, "s3": {**S3["s3"], "secretKey": {"value": "x"}}},
            "runners.unit.cache.s3.secretKey",
            "expected {secret",
        ),
        (
            {"type": "s3", "s3": {"bucketName": "b", "accessKey": {"secret": "cacheAccessKey"}}},
            "runners.unit.cache.s3",
            "needs accessKey and secretKey",
        ),
        ({"type": "s3", "s3": {**S3["s3"], "authenticationType": "iam"}}, "runners.unit.cache.s3", "iam takes no"),
        ({"type": "s3"}, "runners.unit.cache.s3", "is required for type s3"),
        (
            {"type": "s3", "s3": {"bucketName": "b"}, "gcs": {"bucketName": "b"}},
            "runners.unit.cache.gcs",
            "has no gcs section",
        ),
        ({"type": "minio"}, "runners.unit.cache.type", "expected one of s3, gcs, azure"),
        (
            {"type": "gcs", "gcs": {"bucketName": "b", "privateKey": {"secret": "cacheSecretKey"}}},
            "runners.unit.cache.gcs",
            "go together",
        ),
        ({"type": "azure", "azure": {"containerName": "c"}}, "runners.unit.cache.azure.accountName", "is required"),
        ({"type": "s3", "s3": {"bucketName": "b"}, "Shared": True}, "runners.unit.cache.Shared", "unknown key"),
        ("s3", "runners.unit.cache", "expected a map"),
    ],
)
def test_broken_caches_are_named(cache: Any, key: str, message: str) -> None:
    problems = _problems(_values(runner_cache=cache))
    assert any(p.startswith(key) and message in p for p in problems), problems
    assert not any("AKIAIOSFODNN7EXAMPLE" in p for p in problems)


def test_a_plain_credential_in_the_fleet_cache_is_named_once() -> None:
    problems = _problems(_values(cache={**S3, "s3": {**S3["s3"], "secretKey": "hunter2hunter2"}}))
    assert [p for p in problems if p.startswith("cache.")] == [
        "cache.s3.secretKey: a credential in plain text is refused; write {secret: <configKey>} and set that key as "
        "a secret"
    ]
    assert not any("hunter2" in p for p in problems)
