"""plan.stack_file: a stack file read as the CLI hands it to the program, secrets never decrypted."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from components.plan.stack_file import SECRET_PLACEHOLDER, StackFileError, read_stack_file
from tests.fleets import fleet, write_stack


def test_stack_file_secrets_are_placeholders(tmp_path: Path) -> None:
    path = write_stack(tmp_path, fleet(), extra={"gitlab:token": {"secure": "v1:abc"}})
    stack = read_stack_file(path)
    assert "gitlab:token" in stack.secret_keys
    assert "v1:abc" not in yaml.safe_dump(dict(stack.config))


def test_structured_values_are_json_text_and_keys_get_the_project_namespace(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.qa.yaml"
    config = {"gitlabUrl": "https://g.test", "runner-fleet:protect": True, "hosts": {"h": {}}, "runners": {}}
    path.write_text(yaml.safe_dump({"config": config}))
    stack = read_stack_file(path)
    assert stack.stack == "qa"
    assert stack.config == {
        "runner-fleet:gitlabUrl": "https://g.test",
        "runner-fleet:protect": "true",
        "runner-fleet:hosts": '{"h": {}}',
        "runner-fleet:runners": "{}",
        # Pulumi.yaml's defaults, injected as the CLI injects them:
        "runner-fleet:variables": "[]",
        "runner-fleet:tier": "development",
        "runner-fleet:cache": "{}",
        "runner-fleet:gitlabCaBundle": "{}",
        "runner-fleet:registryMirror": "",
        "runner-fleet:tokenRotationDays": "0",
    }


def test_a_secret_nested_in_a_structure_marks_the_whole_key(tmp_path: Path) -> None:
    values = fleet(hosts={"h": {"docker": {"host": {"secure": "v1:xyz"}}}})
    stack = read_stack_file(write_stack(tmp_path, values), stack="other")
    assert stack.stack == "other"
    assert "runner-fleet:hosts" in stack.secret_keys
    assert SECRET_PLACEHOLDER.format(key="runner-fleet:hosts", version="")[:-1] in stack.config["runner-fleet:hosts"]


def test_a_secure_value_that_is_not_a_ciphertext_string_is_refused(tmp_path: Path) -> None:
    path = write_stack(tmp_path, fleet(), extra={"gitlab:token": {"secure": 123}})
    with pytest.raises(StackFileError, match="a secure value is Pulumi's ciphertext string"):
        read_stack_file(path)
