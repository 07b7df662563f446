"""plan.stack_file: a stack file read as the CLI hands it to the program, secrets never decrypted."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
import yaml

from components.plan.stack_file import SECRET_PLACEHOLDER, StackFileError, read_stack_file
from tests.fleets import ciphertext, fleet, write_stack


def test_stack_file_secrets_are_placeholders(tmp_path: Path) -> None:
    cipher = ciphertext("abc")
    path = write_stack(tmp_path, fleet(), extra={"gitlab:token": {"secure": cipher}})
    stack = read_stack_file(path)
    assert "gitlab:token" in stack.secret_keys
    assert cipher not in yaml.safe_dump(dict(stack.config))


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
    values = fleet(hosts={"h": {"docker": {"host": {"secure": ciphertext("xyz")}}}})
    stack = read_stack_file(write_stack(tmp_path, values), stack="other")
    assert stack.stack == "other"
    assert "runner-fleet:hosts" in stack.secret_keys
    assert SECRET_PLACEHOLDER.format(key="runner-fleet:hosts", version="")[:-1] in stack.config["runner-fleet:hosts"]


def test_a_secure_value_that_is_not_a_ciphertext_string_is_refused(tmp_path: Path) -> None:
    path = write_stack(tmp_path, fleet(), extra={"gitlab:token": {"secure": 123}})
    with pytest.raises(StackFileError, match="a secure value is Pulumi's ciphertext string"):
        read_stack_file(path)


# Written by the Pulumi CLI, in pulumi/pulumi's own test data: an independent oracle of the format
# (v1:<base64 of a 12-byte nonce>:<base64 of the AES-256-GCM output, the value then its 16-byte tag>).
CLI_CIPHERTEXTS = (
    "v1:T1ftqhY0hqr+EJK6:+jvd5PMecFx80tcavzuZY4tLatgIfoe/xR72GA==",  # tests/roundtrip/roundtrip_test.go
    "v1:xRi3+sQJSJHR8sha:RM8BfzSAJI84QMl+zLGjzPvwSqV6zOSdd/I/V34h",  # pkg/resource/stack/deployment_test.go
    "v1:F+6ZduKKd8G0/V7L:PGMFeIzwobWRKmEAzUdaQHqC5mMRIQ==",  # pkg/secrets/passphrase/manager_test.go ("pulumi")
    # By hand with the same structure: an empty value is its tag alone, the shortest the CLI writes.
    f"v1:{base64.b64encode(bytes(12)).decode()}:{base64.b64encode(bytes(16)).decode()}",
)


@pytest.mark.parametrize("cipher", CLI_CIPHERTEXTS)
def test_a_ciphertext_as_the_cli_writes_it_is_a_secret(tmp_path: Path, cipher: str) -> None:
    stack = read_stack_file(write_stack(tmp_path, fleet(), extra={"gitlab:token": {"secure": cipher}}))
    assert stack.secret_keys == ("gitlab:token",)


GLPAT = "glpat-Zx9cV8bN7mQ6wE5rT4yU"
NOT_CIPHERTEXTS = {
    # accepted by the earlier `v1:` + base64 pattern (hostile review of issue 19)
    "a password": "v1:hunter2",
    "an AWS access key id": "v1:AKIAIOSFODNN7EXAMPLE",
    "a token, base64-encoded": "v1:" + base64.b64encode(GLPAT.encode()).decode(),
    "three bytes": "v1:Zm9v",
    "a password twice": "v1:hunter2:hunter2",
    "a nonce and three characters": "v1:AAAAAAAAAAAAAAAA:BBB",
    # one step from the CLI's shape
    "an 11-byte nonce": f"v1:{base64.b64encode(bytes(11)).decode()}:{base64.b64encode(bytes(16)).decode()}",
    "a 13-byte nonce": f"v1:{base64.b64encode(bytes(13)).decode()}:{base64.b64encode(bytes(16)).decode()}",
    "shorter than the GCM tag": f"v1:{base64.b64encode(bytes(12)).decode()}:{base64.b64encode(bytes(15)).decode()}",
    "padding Go's decoder refuses": "v1:AAAAAAAAAAAAAAAA=:AAAAAAAAAAAAAAAAAAAAAA==",
    "URL-safe base64": "v1:AAAAAAAAAAAAAAAA:-_-_AAAAAAAAAAAAAAAAAA==",
    "a third segment": "v1:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==:AAAA",
    "another version": "v2:AAAAAAAAAAAAAAAA:AAAAAAAAAAAAAAAAAAAAAA==",
    "Pulumi Cloud's bare base64, not told from a pasted value": base64.b64encode(GLPAT.encode()).decode(),
    "the plaintext itself": GLPAT,
}


@pytest.mark.parametrize("value", NOT_CIPHERTEXTS.values(), ids=NOT_CIPHERTEXTS.keys())
def test_a_secure_value_not_shaped_as_the_cli_writes_it_is_refused_naming_the_key_never_the_value(
    tmp_path: Path, value: str
) -> None:
    path = write_stack(tmp_path, fleet(), extra={"gitlab:token": {"secure": value}})
    with pytest.raises(StackFileError) as refused:
        read_stack_file(path)
    message = str(refused.value)
    assert message.startswith(f"{path}: gitlab:token: a secure value must be a ciphertext"), message
    for part in {value, *value.split(":")[1:]}:
        assert part not in message.removeprefix(str(path)), part
