"""policy/crossguard.py: CrossGuard's props become what the rules read (real pulumi_policy types: `make policy`)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from components.domain.model import Tier
from components.policy.resources import UNKNOWN, Secret
from components.policy.rules import RULES, evaluate
from policy.crossguard import STACKS_ENV, UNKNOWN_SENTINELS, declared, findings, plain_props, stack_of, tier_of
from tests.conftest import ROOT


class _DictProxy(dict):  # stands in for pulumi_policy's proxy: reading "__target" gives the raw data
    def __getitem__(self, key: str) -> object:
        return dict(self) if key == "__target" else super().__getitem__(key)


class Secret_:
    def __init__(self, value: object) -> None:
        self.value = value


Secret_.__name__ = "Secret"


def test_secrets_and_unknowns_are_marked() -> None:
    unknown = next(iter(UNKNOWN_SENTINELS))
    props = _DictProxy({"a": Secret_({"b": [1, unknown]}), "c": unknown, "d": "x"})
    assert plain_props(props) == {"a": Secret({"b": [1, UNKNOWN]}), "c": UNKNOWN, "d": "x"}


def test_a_declared_resource_is_judged_like_in_the_plan() -> None:
    opts = SimpleNamespace(protect=False, additional_secret_outputs=["token"])
    runner = declared("gitlab:index/userRunner:UserRunner", "runner-x", {"accessLevel": "not_protected"}, opts)
    assert runner.secret_outputs == ("token",) and runner.protect is False
    production = {v.rule for v in evaluate([runner], Tier.PRODUCTION) if v.mandatory}
    assert production == {"production-protected", "production-protected-refs-only"}


def test_the_tier_comes_from_the_stack_file_named_in_the_urn(tmp_path: Path) -> None:
    assert stack_of("urn:pulumi:prod::runner-fleet::gitlab:index/userRunner:UserRunner::runner-x") == "prod"
    assert tier_of("prod", ROOT / "stacks") is Tier.PRODUCTION
    assert tier_of("dev", ROOT / "stacks") is Tier.DEVELOPMENT
    assert tier_of("missing", tmp_path) is Tier.DEVELOPMENT
    (tmp_path / "Pulumi.odd.yaml").write_text("config: [")
    assert tier_of("odd", tmp_path) is Tier.DEVELOPMENT


def test_the_pack_reports_findings_for_the_stack_s_tier_and_never_an_exemption(tmp_path: Path) -> None:
    (protected,) = [r for r in RULES if r.id == "production-protected"]
    opts = SimpleNamespace(protect=False, additional_secret_outputs=["token"])
    retiring = declared(
        "gitlab:index/userRunner:UserRunner",
        "runner-x-retiring",
        {"paused": True, "description": "runner-fleet prod/x (retiring)"},
        opts,
    )
    active = declared("gitlab:index/userRunner:UserRunner", "runner-x", {"paused": False}, opts)
    (tmp_path / "Pulumi.prod.yaml").write_text("config:\n  runner-fleet:tier: production\n")
    assert findings(protected, [retiring, active], "prod", tmp_path) == [
        ("runner-x", "a production registration or variable is protected against deletion (protect: true)")
    ]
    assert findings(protected, [active], "dev", tmp_path) == [], "production rules skip other tiers"


def test_the_stack_files_directory_can_be_moved_for_tests(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "Pulumi.elsewhere.yaml").write_text("config:\n  runner-fleet:tier: production\n")
    monkeypatch.delenv(STACKS_ENV, raising=False)
    assert tier_of("prod") is Tier.PRODUCTION, "by default: the project's stacks/"
    assert tier_of("elsewhere") is Tier.DEVELOPMENT
    monkeypatch.setenv(STACKS_ENV, str(tmp_path))
    assert tier_of("elsewhere") is Tier.PRODUCTION
    assert tier_of("prod") is Tier.DEVELOPMENT, "only the named directory is read"
