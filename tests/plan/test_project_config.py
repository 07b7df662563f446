"""plan.project_config: Pulumi.yaml's declarations applied offline exactly as the CLI applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from components.plan import project_config
from components.plan.project_config import apply, declarations
from components.plan.stack_file import StackFileError, read_stack_file
from tests.fleets import fleet, write_stack

DECLARED = {
    "runner-fleet:name": {"type": "string"},
    "runner-fleet:count": {"type": "integer", "default": 3},
    "runner-fleet:flag": {"type": "boolean", "default": False},
    "runner-fleet:list": {"type": "array", "items": {"type": "string"}, "default": ["a"]},
    "runner-fleet:free": {"description": "untyped, required"},
    "runner-fleet:token": {"type": "string", "secret": True, "default": "x"},
    "gitlab:baseUrl": {"value": "https://g.test/api/v4/"},
}


def test_missing_keys_are_named_as_the_cli_names_them() -> None:
    _, problems = apply("dev", {"runner-fleet:free": {}}, set(), DECLARED)
    assert problems == ["Stack 'dev' is missing configuration value 'name'"]
    _, problems = apply("dev", {}, set(), DECLARED)
    assert problems == ["Stack 'dev' is missing configuration values 'free' and 'name'"]
    three = {**DECLARED, "runner-fleet:other": {}}
    _, problems = apply("dev", {}, set(), three)
    assert problems == ["Stack 'dev' is missing configuration values 'free', 'name' and 'other'"]


def test_defaults_and_namespaced_values_are_injected_as_config_text() -> None:
    injected, problems = apply("dev", {"runner-fleet:name": "n", "runner-fleet:free": 1}, set(), DECLARED)
    assert problems == []
    assert injected == {
        "runner-fleet:count": "3",
        "runner-fleet:flag": "false",
        "runner-fleet:list": '["a"]',
        "runner-fleet:token": "x",
        "gitlab:baseUrl": "https://g.test/api/v4/",
    }


@pytest.mark.parametrize(
    ("key", "value", "type_name"),
    [
        ("name", {"a": 1}, "string"),
        ("count", "many", "integer"),
        ("count", True, "integer"),
        ("flag", "yes", "boolean"),
        ("list", ["a", 1], "array<string>"),
        ("list", "a", "array<string>"),
    ],
)
def test_typed_keys_are_checked(key: str, value: object, type_name: str) -> None:
    values = {"runner-fleet:name": "n", "runner-fleet:free": 1, f"runner-fleet:{key}": value}
    _, problems = apply("dev", values, set(), DECLARED)
    assert problems == [f"Stack 'dev' with configuration key '{key}' must be of type '{type_name}'"]


def test_typed_secret_keys_must_be_encrypted_and_untyped_keys_are_not_checked() -> None:
    values = {"runner-fleet:name": "n", "runner-fleet:free": [1, {"x": None}], "runner-fleet:token": "plain"}
    _, problems = apply("dev", values, set(), DECLARED)
    assert problems == ["Stack 'dev' with configuration key 'token' must be encrypted as it's secret"]
    _, problems = apply("dev", values, {"runner-fleet:token"}, DECLARED)
    assert problems == []


def test_shorthand_declarations(tmp_path: Path) -> None:
    project = tmp_path / "Pulumi.yaml"
    project.write_text("name: x\nruntime: python\nconfig:\n  size: 3\n  aws:region: eu-west-1\n")
    assert declarations(project) == {"runner-fleet:size": {"default": 3}, "aws:region": {"value": "eu-west-1"}}


def test_the_projects_declarations_require_only_what_a_stack_cannot_do_without(tmp_path: Path) -> None:
    values = fleet()
    assert "variables" not in values and "tier" not in values
    stack = read_stack_file(write_stack(tmp_path, values))
    assert stack.config["runner-fleet:variables"] == "[]" and stack.config["runner-fleet:tier"] == "development"
    for required in ("gitlabUrl", "hosts", "runners"):
        partial = fleet()
        del partial[required]
        with pytest.raises(StackFileError) as caught:
            read_stack_file(write_stack(tmp_path, partial))
        assert caught.value.problems == (f"Stack 'test' is missing configuration value '{required}'",)
    assert set(project_config.declarations()) >= {"runner-fleet:gitlabUrl", "runner-fleet:tier"}
