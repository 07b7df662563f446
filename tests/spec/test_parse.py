"""spec.parse_spec: stack values into the frozen model; defaults, ordering, secrets, problems together."""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest

from components.domain import model, versions
from components.domain.model import AccessLevel, LogFormat, ScopeKind
from components.domain.targets import Executor
from components.spec import SpecError, parse_spec
from tests.fleets import K8S_MIXED, fleet
from tests.harness import manager_of, spec_of


def test_parses_the_fleet_into_sorted_frozen_models() -> None:
    spec = spec_of(fleet())
    assert [h.key for h in spec.hosts] == ["edge-1", "edge-2", "edge-3"]
    assert [r.key for r in spec.runners] == ["docs", "images", "release", "shared", "unit"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.hosts[0].concurrent = 99  # type: ignore[misc]
    images = next(r for r in spec.runners if r.key == "images")
    assert images.scope.kind is ScopeKind.GROUP and images.scope.ref == "acme/platform"
    assert images.image == versions.BUILDKIT_IMAGE
    assert images.allowed_images == model.BUILDKIT_ALLOWED_IMAGES
    release = next(r for r in spec.runners if r.key == "release")
    assert release.access_level is AccessLevel.REF_PROTECTED and release.locked and release.paused
    assert manager_of(spec, "edge-3").host.log_format is LogFormat.TEXT
    assert manager_of(spec, "edge-1").host.executor is Executor.DOCKER


def test_defaults_are_safe() -> None:
    spec = spec_of(fleet())
    unit = next(r for r in spec.runners if r.key == "unit")
    assert unit.buildkit is False, "the relaxation is asked for, never implied"
    assert unit.allowed_images == ()
    assert unit.run_untagged is False and unit.access_level is AccessLevel.NOT_PROTECTED
    assert manager_of(spec, "edge-2").host.concurrent == 4
    assert spec.protect is False


def test_numeric_strings_are_ids_and_tags_are_a_set() -> None:
    values = fleet()
    values["runners"]["unit"].update({"scope": {"project": "42"}, "tags": ["b", "a", "b"]})
    unit = next(r for r in spec_of(values).runners if r.key == "unit")
    assert unit.scope.ref == 42 and unit.tags == ("a", "b")


def test_json_text_is_accepted_as_the_engine_passes_it() -> None:
    values = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in fleet().items()}
    assert spec_of(values) == spec_of(fleet())


def test_drain_covers_the_longest_job_on_the_host() -> None:
    spec = spec_of(fleet())
    assert manager_of(spec, "edge-1").drain_seconds == 7200 + 60
    # edge-2's runners have no maximumTimeout: GitLab's default job timeout of one hour applies.
    assert manager_of(spec, "edge-2").drain_seconds == 3600 + 60


def test_warnings_do_not_block() -> None:
    values = fleet()
    values["runners"]["images"]["locked"] = True
    values["hosts"]["edge-3"]["concurrent"] = 1
    values["runners"]["unit"]["host"] = "edge-3"
    values["hosts"]["spare"] = {"docker": {"host": "ssh://ci@spare.acme.test"}}
    spec = spec_of(values)
    assert any(w.startswith("hosts.edge-3.concurrent:") for w in spec.warnings)
    assert any(w.startswith("hosts.spare:") for w in spec.warnings)
    assert any(w.startswith("runners.images.locked:") for w in spec.warnings)


def test_every_problem_is_reported_together() -> None:
    values = fleet()
    values["hosts"]["edge-1"]["concurrent"] = 0
    values["runners"]["images"]["host"] = "nowhere"
    values["runners"]["unit"]["scope"] = {"group": 1, "project": 2}
    values["gitlabUrl"] = "ftp://x"
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    keys = [p.split(":")[0] for p in caught.value.problems]
    assert keys == ["gitlabUrl", "hosts.edge-1.concurrent", "runners.images.host", "runners.unit.scope"]


def test_secrets_must_be_secret() -> None:
    values = fleet(variables=[{"project": 1, "key": "TOKEN", "secret": "deployToken"}], deployToken="plain")
    with pytest.raises(SpecError, match=r"variables\[0\]\.secret: config key 'deployToken' is not a secret"):
        parse_spec(values, stack="test")
    spec = parse_spec(values, stack="test", secret_keys=["deployToken"])
    assert spec.secret_keys == {"deployToken"}
    assert spec.variables[0].secret == "deployToken" and spec.variables[0].value is None


def test_structure_never_comes_from_a_secret() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec(fleet(), stack="test", secret_keys=["hosts"])
    assert any(p.startswith("hosts: must not be a secret") for p in caught.value.problems)


def test_reordering_maps_changes_nothing() -> None:
    values = fleet()
    reordered = {k: values[k] for k in reversed(list(values))}
    reordered["hosts"] = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(values["hosts"].items()))}
    reordered["runners"] = {k: dict(reversed(list(v.items()))) for k, v in reversed(list(values["runners"].items()))}
    assert spec_of(reordered) == spec_of(values)


def test_an_invalid_namespace_does_not_hide_its_siblings() -> None:
    values = fleet()
    values["hosts"]["edge-3"] = {
        "kubernetes": {"namespace": "CI_Runners", "jobNamespace": "Jobs!", "tolerations": {"a=b": "Never"}},
        "concurrent": 0,
    }
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    keys = [p.split(":")[0] for p in caught.value.problems]
    for key in (
        "hosts.edge-3.kubernetes.namespace",
        "hosts.edge-3.kubernetes.jobNamespace",
        "hosts.edge-3.kubernetes.tolerations.a=b",
        "hosts.edge-3.concurrent",
    ):
        assert key in keys, (key, caught.value.problems)


def test_a_job_namespace_derived_from_a_bad_namespace_is_not_a_second_problem() -> None:
    values = fleet()
    values["hosts"]["edge-3"] = {"kubernetes": {"namespace": "CI_Runners"}}
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    assert [p for p in caught.value.problems if "edge-3.kubernetes" in p] == [
        "hosts.edge-3.kubernetes.namespace: expected a Kubernetes namespace name (RFC 1123 label), found 'CI_Runners'"
    ]


def test_a_long_namespace_whose_default_job_namespace_is_too_long_is_named() -> None:
    values = fleet()
    values["hosts"]["edge-3"] = {"kubernetes": {"namespace": "n" * 63}}
    with pytest.raises(SpecError, match=r"hosts\.edge-3\.kubernetes\.jobNamespace: .*'n{63}-jobs'"):
        parse_spec(values, stack="test")


def test_every_invalid_key_of_a_runner_is_reported_even_when_its_host_is_unknown() -> None:
    values = fleet()
    values["runners"]["images"].update(host="edge-9", paused="yes", protectedOnly=1)
    with pytest.raises(SpecError) as caught:
        parse_spec(values, stack="test")
    keys = {p.split(":")[0] for p in caught.value.problems}
    assert {"runners.images.host", "runners.images.paused", "runners.images.protectedOnly"} <= keys


@pytest.mark.parametrize("tier", ["development", "production"])
def test_jobs_never_share_the_manager_namespace(tier: str) -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["eu"]["kubernetes"]["jobNamespace"] = "runners"
    values["tier"] = tier
    with pytest.raises(SpecError, match=r"hosts\.eu\.kubernetes\.jobNamespace: must differ from namespace"):
        spec_of(values)


def test_a_namespace_belongs_to_one_host_per_cluster() -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["us"]["kubernetes"] = {"context": "eu-1", "namespace": "builds"}
    with pytest.raises(SpecError, match=r"hosts\.us\.kubernetes\.namespace: namespace 'builds' is already declared"):
        spec_of(values)


def test_the_extra_config_of_a_runner_on_a_broken_host_is_still_checked() -> None:
    values = copy.deepcopy(K8S_MIXED)
    values["hosts"]["eu"]["kubernetes"]["namespace"] = "CI_Runners"
    values["runners"]["eu-tests"]["extraConfig"] = "[kubernetes]\nprivileged = true\n"
    values["runners"]["eu-images"]["extraConfig"] = "not = = toml"
    with pytest.raises(SpecError) as caught:
        spec_of(values)
    keys = [p.split(":")[0] for p in caught.value.problems]
    assert "hosts.eu.kubernetes.namespace" in keys
    assert "runners.eu-tests.extraConfig.kubernetes.privileged" in keys
    assert "runners.eu-images.extraConfig" in keys


def test_tier_defaults_to_development_and_production_protects_by_default() -> None:
    assert spec_of(fleet()).tier is model.Tier.DEVELOPMENT
    assert spec_of(fleet()).protect is False
    prod = spec_of(fleet(tier="production"))
    assert prod.tier is model.Tier.PRODUCTION and prod.protect is True
    assert spec_of(fleet(tier="production", protect=False)).protect is False, "an explicit protect wins"
    assert spec_of(fleet(tier="staging")).protect is False


def test_an_unknown_tier_names_the_tiers() -> None:
    with pytest.raises(SpecError, match=r"tier: expected one of production, staging, testing, development, other"):
        spec_of(fleet(tier="prod"))
