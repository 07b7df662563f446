"""The key tables are the one place every stack key is listed: Pulumi.yaml, the README and the model agree."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
import yaml

from components.domain import model, targets
from components.spec import keys
from components.spec.docs import PROGRAM_DEFAULTS, pulumi_config
from components.spec.keys import TOP_LEVEL, Section
from components.spec.kinds import Nested, Refused
from tests.conftest import ROOT


def test_pulumi_yaml_declares_exactly_the_top_level_keys_as_generated() -> None:
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    assert list(declared) == [k for k in keys.TOP_LEVEL.names if k not in PROGRAM_DEFAULTS]
    assert declared == pulumi_config(), "regenerate with: .venv/bin/python -m components.spec.docs"


def test_only_keys_a_stack_cannot_do_without_are_required_by_the_cli() -> None:
    """The CLI requires every declared project key without a default; those must be the spec's required ones."""
    declared = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["config"]
    required_by_cli = {k for k, v in declared.items() if "default" not in v and "value" not in v}
    assert required_by_cli == {k.name for k in keys.TOP_LEVEL.keys if k.required}


def key_paths(section: Section = TOP_LEVEL, prefix: str = "") -> Iterator[str]:
    """Every key path of the stack file, e.g. `hosts.<h>.docker.tls.ca`."""
    entries = {"hosts": ".<h>", "runners": ".<r>", "variables": "[i]"}
    for key in section.keys:
        path = f"{prefix}{key.name}"
        yield path
        if isinstance(key.kind, Nested) and key.kind.section is not None:
            yield from key_paths(key.kind.section, f"{path}{entries.get(path, '')}.")


def test_the_readme_reference_names_every_key() -> None:
    readme = (ROOT / "README.md").read_text()
    reference = readme.split("## Stack file reference", 1)[1].split("\n## ", 1)[0]
    missing = {path for path in key_paths() if not re.search(rf"\b{re.escape(path.rsplit('.', 1)[-1])}\b", reference)}
    assert not missing, f"README's stack file reference does not mention: {sorted(missing)}"


MODELS: list[tuple[Section, type]] = [
    (keys.HOST, model.HostSpec),
    (keys.DOCKER, targets.DockerTarget),
    (keys.TLS, targets.DockerTls),
    (keys.KUBERNETES, targets.KubernetesTarget),
    (keys.RUNNER, model.RunnerSpec),
    (keys.VARIABLE, model.VariableSpec),
    (keys.TOP_LEVEL, model.FleetSpec),
]


@pytest.mark.parametrize(("section", "cls"), MODELS, ids=[m[1].__name__ for m in MODELS])
def test_every_key_fills_a_model_field(section: Section, cls: type) -> None:
    fields = {f.name for f in dataclasses.fields(cls)}
    for key in (k for k in section.keys if not isinstance(k.kind, Refused)):  # a refused key fills nothing
        assert key.field in fields, f"{key.name} -> {key.field} is not a field of {cls.__name__}"
        assert key.doc and not key.doc.endswith("."), key.name


def test_optional_keys_take_their_default_from_the_model() -> None:
    """A key without a `required` message leaves its field out, so the model field must have a default."""
    for section, cls in MODELS:
        defaults = {
            f.name
            for f in dataclasses.fields(cls)
            if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        }
        computed = {"job_namespace", "image", "allowed_images", "tags", "target", "scope", "owner", "hosts", "runners"}
        for key in (k for k in section.keys if not isinstance(k.kind, Refused)):
            if not key.required and key.field not in computed:
                assert key.field in defaults, f"{cls.__name__}.{key.field} has no default for optional {key.name}"


README_DEFAULTS = [
    ("concurrent", model.field_default(model.HostSpec, "concurrent")),
    ("checkInterval", model.field_default(model.HostSpec, "check_interval")),
    ("shutdownTimeout", model.field_default(model.HostSpec, "shutdown_timeout")),
    ("logFormat", model.field_default(model.HostSpec, "log_format").value),
    ("logLevel", model.field_default(model.HostSpec, "log_level").value),
    ("runnerImage", model.field_default(model.HostSpec, "runner_image")),
    ("pullPolicy", model.field_default(model.RunnerSpec, "pull_policy").value),
    ("image", model.default_job_image(buildkit=True)),
    ("allowedImages", model.BUILDKIT_ALLOWED_IMAGES[0]),
    ("tier", model.field_default(model.FleetSpec, "tier").value),
]


@pytest.mark.parametrize(("key", "default"), README_DEFAULTS, ids=[k for k, _ in README_DEFAULTS])
def test_the_readme_states_the_models_defaults(key: str, default: object) -> None:
    readme = (ROOT / "README.md").read_text()
    reference = readme.split("## Stack file reference", 1)[1].split("\n## ", 1)[0]
    (row,) = [line for line in reference.splitlines() if line.startswith("| ") and f"{key}`" in line.split("|")[1]]
    assert str(default) in row, f"README's row for {key} does not say its default {default}"
