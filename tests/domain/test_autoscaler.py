"""domain.autoscaler: plugin references as gitlab-runner documents them, Go durations, what the manager needs.

Oracles: the `plugin` formats and version constraints of gitlab-runner's docs/fleet_scaling/fleeting.md, the
install path of its commands/fleeting integration test, Go's time.Duration.String, and the image's default
command (reference/runner-and-buildkit.md).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from components.domain import fleeting
from components.domain.autoscaler import PluginProblem, go_duration, parse_plugin
from components.domain.model import ManagerSpec
from tests.fleets import AUTOSCALED, FLEET
from tests.harness import manager_of, spec_of

# The six formats docs/fleet_scaling/fleeting.md lists, each pinned with MAJOR.MINOR.PATCH, and where
# `gitlab-runner fleeting install` puts them (commands/fleeting/fleeting_integration_test.go: <InstallDir>/
# registry.gitlab.com/gitlab-org/fleeting/plugins/aws/0.5.0 for "aws:0.5.0").
DOCUMENTED_FORMATS = [
    ("aws:0.5.0", "registry.gitlab.com", "gitlab-org/fleeting/plugins", "aws", "aws"),
    (
        "gitlab-org/fleeting/plugins/googlecloud:1.5.1",
        "registry.gitlab.com",
        "gitlab-org/fleeting/plugins",
        "googlecloud",
        "googlecloud",
    ),
    (
        "registry.gitlab.com/gitlab-org/fleeting/plugins/azure:1.5.1",
        "registry.gitlab.com",
        "gitlab-org/fleeting/plugins",
        "azure",
        "azure",
    ),
    (
        "registry.corp.test/mirror/gitlab-org/fleeting/plugins/aws:1.5.1",
        "registry.corp.test",
        "mirror/gitlab-org/fleeting/plugins",
        "aws",
        "aws",
    ),
    (
        "santhanuv/fleeting-plugin-vmware-vsphere:1.5.1",
        "registry.gitlab.com",
        "santhanuv",
        "fleeting-plugin-vmware-vsphere",
        None,
    ),
    (
        "registry.gitlab.com/santhanuv/fleeting-plugin-vmware-vsphere:0.3.0",
        "registry.gitlab.com",
        "santhanuv",
        "fleeting-plugin-vmware-vsphere",
        None,
    ),
    ("localhost:5000/plugins/hetzner:2.0.10", "localhost:5000", "plugins", "hetzner", None),
]


@pytest.mark.parametrize(("text", "registry", "repository", "name", "official"), DOCUMENTED_FORMATS)
def test_every_documented_format_pinned_to_one_version_is_taken_verbatim(
    text: str, registry: str, repository: str, name: str, official: str | None
) -> None:
    ref = parse_plugin(text)
    assert (ref.reference, ref.registry, ref.repository, ref.name, ref.official) == (
        text,
        registry,
        repository,
        name,
        official,
    )
    assert ref.version == text.rsplit(":", 1)[1]


# Every constraint the docs list other than MAJOR.MINOR.PATCH selects the newest match: not pinned.
UNPINNED = ["aws", "aws:latest", "aws:1", "aws:1.5", "gitlab-org/fleeting/plugins/aws", "registry.gitlab.com/x/aws:0"]


@pytest.mark.parametrize("text", UNPINNED)
def test_a_constraint_that_selects_the_newest_match_is_not_pinned(text: str) -> None:
    with pytest.raises(PluginProblem, match=r"is not pinned.*MAJOR\.MINOR\.PATCH"):
        parse_plugin(text)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("aws@sha256:" + "a" * 64, "not a digest"),
        ("aws:1.0.0@sha256:" + "a" * 64, "not a digest"),
        ("fleeting-plugin-aws", "binary on the manager's PATH"),
        ("aws:^1.0.0", "no version constraint gitlab-runner knows"),
        ("aws:~1.0", "no version constraint gitlab-runner knows"),
        ("aws:>=1.0.0", "no version constraint gitlab-runner knows"),
        ("aws:v1.0.0", "no version constraint gitlab-runner knows"),
        ("aws:1.0.0-rc1", "no version constraint gitlab-runner knows"),
        ("AWS:1.0.0", "lower-case path components"),
        ("aws:1.0.0 ", "without spaces"),
        ("registry.corp.test/aws:1.0.0", "no repository"),
        ("a" * 300 + ":1.0.0", "at most 255"),
    ],
)
def test_what_is_not_a_pinned_reference_is_refused_with_the_reason(text: str, says: str) -> None:
    with pytest.raises(PluginProblem, match=says.replace("^", r"\^")):
        parse_plugin(text)


@pytest.mark.parametrize(
    ("seconds", "go"), [(0, "0s"), (1, "1s"), (90, "1m30s"), (1200, "20m0s"), (3600, "1h0m0s"), (3661, "1h1m1s")]
)
def test_durations_render_as_go_prints_them(seconds: int, go: str) -> None:
    """time.Duration.String: what gitlab-runner's docs write (`idle_time = "20m0s"`) and time.ParseDuration reads."""
    assert go_duration(seconds) == go


def _manager(values: dict[str, Any]) -> ManagerSpec:
    return manager_of(spec_of(values), "build-1")


def test_a_manager_with_an_autoscaled_runner_installs_its_plugins_then_runs_as_the_image_does() -> None:
    manager = _manager(AUTOSCALED)
    # The image's init stays PID 1 (SIGQUIT and the reloader's SIGHUP reach gitlab-runner).
    assert fleeting.manager_entrypoint(manager) == ["/usr/bin/dumb-init", "/bin/sh", "-c"]
    command = fleeting.manager_command(manager)
    assert command is not None and len(command) == 1
    install, run = command[0].split(" && ")
    assert install == "gitlab-runner fleeting --config /etc/gitlab-runner/config.toml install"
    # The image's ENTRYPOINT script and default CMD (reference/runner-and-buildkit.md, "Run command").
    assert run == "exec /entrypoint run --user=gitlab-runner --working-directory=/home/gitlab-runner"


def test_a_manager_without_autoscaled_runners_keeps_the_images_command() -> None:
    values = copy.deepcopy(FLEET)
    manager = manager_of(spec_of(values), "edge-1")
    assert fleeting.manager_command(manager) is None and fleeting.manager_entrypoint(manager) is None
    assert fleeting.restart_inputs(manager) == () and fleeting.restart_digest(manager) is None
    assert not fleeting.overlap_unsafe(manager)


def _edited(path: list[str], value: object) -> dict[str, Any]:
    values = copy.deepcopy(AUTOSCALED)
    node = values["runners"]["images"]["autoscaler"]
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return values


def test_only_what_a_reload_cannot_apply_asks_for_a_new_manager() -> None:
    """gitlab-runner re-applies [[runners.autoscaler.policy]] on reload and nothing else of [runners.autoscaler]
    (executors/internal/autoscaler/provider.go: the taskscaler is built once per runner)."""
    base = fleeting.restart_inputs(_manager(AUTOSCALED))
    policies = [{"periods": ["* 8-15 * * mon-fri"], "idleCount": 1, "idleTime": "30m"}]
    assert fleeting.restart_inputs(_manager(_edited(["policies"], policies))) == base
    for path, value in [
        (["plugin"], "aws:1.0.1"),
        (["maxInstances"], 21),
        (["capacityPerInstance"], 2),
        (["pluginConfig", "name"], "other-group"),
        (["connectorConfig", "username"], "ubuntu"),
    ]:
        assert fleeting.restart_inputs(_manager(_edited(path, value))) != base, path


def test_restart_inputs_name_secrets_by_their_key_never_their_value() -> None:
    values = _edited(["pluginConfig"], {"name": "g", "api_token": {"secret": "pluginToken"}})
    values["runners"]["images"]["autoscaler"]["plugin"] = "registry.corp.test/ci/fleeting-plugin-x:1.2.3"
    values["pluginToken"] = "CANARYpluginTOKEN"
    lines = fleeting.restart_inputs(manager_of(spec_of(values, secret_keys=("pluginToken",)), "build-1"))
    assert any('"api_token":"[secret:pluginToken]"' in line for line in lines)
    assert not any("CANARY" in line for line in lines)


def test_an_autoscaled_manager_must_never_overlap_its_successor() -> None:
    assert fleeting.overlap_unsafe(_manager(AUTOSCALED))


def test_the_model_is_frozen() -> None:
    scaler = manager_of(spec_of(AUTOSCALED), "build-1").runners[0].autoscaler
    assert scaler is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        scaler.max_instances = 1  # type: ignore[misc]
