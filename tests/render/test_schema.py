"""render.schema: the vendored gitlab-runner config schema rejects what the runner would."""

from __future__ import annotations

from components.render import schema
from tests.fleets import fleet
from tests.harness import rendered, spec_of, validate_text


def test_schema_rejects_what_the_runner_would() -> None:
    good = rendered(spec_of(fleet()), "edge-1")
    assert validate_text(good) == []
    broken = good.replace("check_interval = 3", 'check_interval = "often"').replace(
        "[runners.docker]", "[runners.dockr]"
    )
    errors = validate_text(broken)
    assert any(e.startswith("check_interval:") for e in errors)
    assert any("dockr" in e for e in errors)


def test_the_schema_is_the_pinned_runners() -> None:
    assert schema.SCHEMA_PATH.is_file()
    assert "v19.3.0" in schema.SCHEMA_PATH.name
    assert schema.errors({"concurrent": 1, "runners": []}) == []
    assert schema.errors({"concurrent": "many"})[0][0] == ["concurrent"]
