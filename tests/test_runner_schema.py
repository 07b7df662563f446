"""tools/runner_schema.py: the vendored runner config schema is reproducible from the runner's source, and every pin
of the runner release (versions module, images, schema file, golden files, docs) names one release."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from components.domain import images, versions
from components.render import schema as runner_schema

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import runner_schema as tool  # noqa: E402

RUNNER_GIT = Path("/work/.mirror/gitlabhq+gitlab-runner/repo")

# A small package as the runner writes them: every rule of the tool once (fields with and without toml tags, `-`,
# embedded structs, pointers, slices, maps, named types, durations, foreign types, a grouped declaration).
FIXTURE_COMMON = """package common

import (
	"time"

	api "k8s.io/api/core/v1"
	"gitlab.com/gitlab-org/gitlab-runner/cache/cacheconfig"
)

type (
	Grouped map[string]string // declared in a group: not read
)

// Config is the root.
type Config struct {
	Concurrent int             `toml:"concurrent" json:"concurrent"`
	Runners    []*RunnerConfig `toml:"runners"`
	Timeout    *time.Duration  `toml:"timeout,omitempty" description:"a // inside a tag is no comment"`
	Loaded     bool            `toml:"-"`
	NoTag      string          `long:"no-tag"`
}

type RunnerConfig struct {
	Name   string            `toml:"name"`
	Tags   StringOrArray     `toml:"tags"`
	Labels map[string]string `toml:"labels,omitempty"`
	Policy Policy            `toml:"policy"`
	Pod    api.PodSpec       `toml:"pod"`
	Sysctl Grouped           `toml:"sysctls"`
	Cache  *cacheconfig.Config `toml:"cache"`
	Scale  float64           `toml:"scale"`
	IDs    []int64           `toml:"ids"`
	At     time.Time         `toml:"at"`

	Credentials
}

type Credentials struct {
	URL, Token string `toml:"url"`
	hidden     int
}

type Policy string

type StringOrArray []string

type Unreached struct{ X int `toml:"x"` }
"""
FIXTURE_CACHE = """package cacheconfig

type Config struct {
	Type string `toml:"Type,omitempty"`
}
"""


@pytest.fixture
def fixture_tree(tmp_path: Path) -> Path:
    for package, text in {"common": FIXTURE_COMMON, "cache/cacheconfig": FIXTURE_CACHE}.items():
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "config.go").write_text(text)
        (tmp_path / package / "config_test.go").write_text("package x\n\ntype Config struct{ Ignored int }\n")
    for package in tool.PACKAGES[2:]:
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "doc.go").write_text(f"package {package.rsplit('/', 1)[-1]}\n")
    return tmp_path


def test_the_tool_reads_go_types_as_the_runner_decodes_them(fixture_tree: Path) -> None:
    schema = tool.derive(tool.Source(fixture_tree, "v1.2.3"))
    defs = schema["$defs"]
    assert schema["$ref"] == "#/$defs/common.Config" and "v1.2.3" in schema["$comment"]
    assert set(defs) == {"common.Config", "common.RunnerConfig", "common.Policy", "common.StringOrArray"} | {
        "cacheconfig.Config"
    }
    assert defs["common.Config"] == {
        "additionalProperties": False,
        "properties": {
            "concurrent": {"type": "integer"},
            "runners": {"items": {"$ref": "#/$defs/common.RunnerConfig"}, "type": "array"},
            "timeout": {"type": ["string", "integer"]},
        },
        "type": "object",
    }
    runner = defs["common.RunnerConfig"]["properties"]
    assert runner == {
        "name": {"type": "string"},
        "tags": {"$ref": "#/$defs/common.StringOrArray"},
        "labels": {"additionalProperties": {"type": "string"}, "type": "object"},
        "policy": {"$ref": "#/$defs/common.Policy"},
        "pod": {},
        "sysctls": {},
        "cache": {"$ref": "#/$defs/cacheconfig.Config"},
        "scale": {"type": "number"},
        "ids": {"items": {"type": "integer"}, "type": "array"},
        "at": {},
        "url": {"type": "string"},
    }
    assert defs["common.Policy"] == {"type": "string"}
    assert defs["common.StringOrArray"]["anyOf"][1] == {"items": {"type": "string"}, "type": "array"}
    assert defs["cacheconfig.Config"]["properties"] == {"Type": {"type": "string"}}
    assert tool.text(schema).endswith("}\n") and json.loads(tool.text(schema)) == schema


def test_the_command_writes_the_schema_and_its_checksums(fixture_tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "gitlab-runner-v1.2.2-config.schema.json").write_text("{}\n")
    (out / "other.schema.json").write_text("{}\n")
    assert tool.main(["--tag", "v1.2.3", "--source", str(fixture_tree), "--out", str(out), "--drop-others"]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "SHA256SUMS",
        "gitlab-runner-v1.2.3-config.schema.json",
        "other.schema.json",
    ]
    done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=out, capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stdout.count(": OK") == 2, done.stdout + done.stderr
    assert tool.main(["--tag", "latest", "--source", str(fixture_tree), "--out", str(out)]) == 2
    assert tool.main(["--tag", "v1.2.3", "--source", str(tmp_path / "nothing"), "--out", str(out)]) == 2


def test_the_vendored_schema_is_reproduced_byte_for_byte(tmp_path: Path) -> None:
    if not (RUNNER_GIT / "HEAD").is_file():
        pytest.skip(f"no gitlab-runner checkout at {RUNNER_GIT} (CI has none): the generator runs on a fixture above")
    out = tmp_path / "schemas"
    out.mkdir()
    assert tool.main(["--tag", versions.RUNNER_VERSION, "--source", str(RUNNER_GIT), "--out", str(out)]) == 0
    produced = out / tool.schema_name(versions.RUNNER_VERSION)
    assert produced.read_bytes() == runner_schema.SCHEMA_PATH.read_bytes()
    vendored_sums = (ROOT / "schemas" / "SHA256SUMS").read_text().splitlines()
    assert (out / "SHA256SUMS").read_text().splitlines()[0] in vendored_sums


# --- one release everywhere ------------------------------------------------------------------------------------

PINNED_FILES = ["schemas/README.md", "stacks/*.yaml", "examples/*", "docs/**/*.md", "tests/golden/*"]
IMAGE_PIN = re.compile(r"gitlab-runner(?:-helper)?:[a-z0-9.-]*?(v\d+\.\d+\.\d+)")
README_PIN = re.compile(r"(?:default|pinned) `[^`]*gitlab-runner(?:-helper)?:[a-z0-9.-]*?(v\d+\.\d+\.\d+)")
"""The README also shows other releases on purpose (an upgrade's example): only what it calls the default counts."""


def test_every_runner_pin_names_the_pinned_release() -> None:
    release = versions.RUNNER_VERSION
    assert images.runner_version(versions.RUNNER_IMAGE) == release
    helper = images.helper_image(versions.RUNNER_IMAGE, "registry.example.com")
    assert helper is not None and images.runner_version(helper) == release
    vendored = sorted(p.name for p in (ROOT / "schemas").glob(tool.schema_name("*")))
    assert vendored == [tool.schema_name(release)], "one runner schema, the pinned release's"
    assert json.loads(runner_schema.SCHEMA_PATH.read_text())["$comment"].startswith(
        f"Keys and types of gitlab-runner {release} "
    )
    found: dict[str, set[str]] = {}
    for pattern in PINNED_FILES:
        for path in ROOT.glob(pattern):
            if path.is_file():
                for match in IMAGE_PIN.finditer(path.read_text(errors="replace")):
                    found.setdefault(match[1], set()).add(str(path.relative_to(ROOT)))
    for match in README_PIN.finditer((ROOT / "README.md").read_text()):
        found.setdefault(match[1], set()).add("README.md")
    assert "README.md" in found.get(release, set()), "the README names the default runner image"
    assert set(found) <= {release}, {v: sorted(p) for v, p in found.items() if v != release}
    assert tool.schema_name(release) in (ROOT / "schemas" / "README.md").read_text()
