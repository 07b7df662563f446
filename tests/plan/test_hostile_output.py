"""Where the plan writes and what it compares with, when they are hostile or careless (issue 19, parts 10 and 11).

- `--out` that is a symbolic link (to a directory, to a plan output, dangling), a file, or below a file: exit 2
  with one clean line, and nothing it points at is deleted or written.
- `--compare BASE_DIR` whose plan.json is nested 100000 deep (or deep inside a resource's inputs), holds numbers
  JSON has not (1e999, NaN, Infinity) or an integer of 5000 digits, is binary, a directory or a link: exit 2, no
  traceback, nothing of its content repeated.
- Names from a compare base that carry terminal controls (ESC/CSI, BEL, carriage returns, C1, bidi overrides,
  NUL) reach neither the terminal nor impact.md raw.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import unicodedata
from collections.abc import Callable
from pathlib import Path

import pytest

from components.plan.__main__ import main
from components.spec.safe_text import UNSAFE_CATEGORIES
from tests.fleets import SMALL_STACK_FILE

STACK = SMALL_STACK_FILE


def _plan(tmp_path: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    stack_file = tmp_path / "Pulumi.test.yaml"
    stack_file.write_text(STACK)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        status = main(["--stack-file", str(stack_file), "--out", str(out), *extra])
    assert "Traceback" not in stdout.getvalue() + stderr.getvalue()
    return status, stdout.getvalue(), stderr.getvalue()


def _victim(tmp_path: Path, *, marked: bool) -> Path:
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious.txt").write_text("keep me")
    if marked:
        (victim / "plan.json").write_text("{}")
    return victim


def _unchanged(victim: Path, *, marked: bool) -> bool:
    names = sorted(p.name for p in victim.iterdir())
    return names == sorted(["precious.txt"] + (["plan.json"] if marked else [])) and (
        (victim / "precious.txt").read_text() == "keep me"
    )


@pytest.mark.parametrize("marked", [True, False], ids=["to an earlier plan", "to any directory"])
def test_out_that_is_a_symbolic_link_is_never_followed(tmp_path: Path, marked: bool) -> None:
    victim = _victim(tmp_path, marked=marked)
    link = tmp_path / "out"
    link.symlink_to(victim, target_is_directory=True)
    status, _, stderr = _plan(tmp_path, link)
    assert status == 2 and "is a symbolic link" in stderr and len(stderr.splitlines()) == 1
    assert _unchanged(victim, marked=marked) and link.is_symlink()


def test_out_that_is_a_dangling_link_is_not_created_through(tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "elsewhere")
    status, _, stderr = _plan(tmp_path, link)
    assert status == 2 and "symbolic link" in stderr and not (tmp_path / "elsewhere").exists()


def test_a_plan_json_that_is_a_link_does_not_mark_an_earlier_plan(tmp_path: Path) -> None:
    victim = _victim(tmp_path, marked=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.json").symlink_to(victim / "precious.txt")
    (out / "notes.txt").write_text("mine")
    status, _, stderr = _plan(tmp_path, out)
    assert status == 2 and "holds no plan.json" in stderr and (out / "notes.txt").exists()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: (d / "out").write_text("a file"), "is a file, not a directory"),
        (lambda d: (d / "blocker").write_text("a file") or None, "cannot be examined"),
        (lambda d: os.mkfifo(d / "out"), "is a file, not a directory"),
    ],
    ids=["a file", "below a file", "a fifo"],
)
def test_out_that_is_not_a_directory_ends_cleanly(tmp_path: Path, make: object, message: str) -> None:
    make(tmp_path)  # type: ignore[operator]
    out = tmp_path / "blocker" / "out" if (tmp_path / "blocker").exists() else tmp_path / "out"
    status, _, stderr = _plan(tmp_path, out)
    assert status == 2 and message in stderr and stderr.startswith("error: --out")


def test_an_earlier_plan_is_replaced_and_a_link_inside_it_is_removed_not_followed(tmp_path: Path) -> None:
    victim = _victim(tmp_path, marked=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "plan.json").write_text("{}")
    (out / "hosts").symlink_to(victim, target_is_directory=True)
    status, _, _ = _plan(tmp_path, out)
    assert status == 0 and (out / "plan.json").stat().st_size > 100
    assert _unchanged(victim, marked=False) and not (out / "hosts").is_symlink()


# Compare bases ----------------------------------------------------------------------------------------------------


def _base(tmp_path: Path, text: bytes | str) -> Path:
    base = tmp_path / "base"
    base.mkdir(exist_ok=True)
    data = text.encode() if isinstance(text, str) else text
    (base / "plan.json").write_bytes(data)
    return base


def _real_base(tmp_path: Path) -> dict[str, object]:
    status, _, _ = _plan(tmp_path, tmp_path / "first")
    assert status == 0
    document: dict[str, object] = json.loads((tmp_path / "first" / "plan.json").read_text())
    return document


def _with_inputs_value(document: dict[str, object], raw: str) -> str:
    resources = document["resources"]
    assert isinstance(resources, list)
    resources[-1]["inputs"]["x"] = "MARK"
    return json.dumps(document).replace('"MARK"', raw)


BASES: dict[str, Callable[[Path], bytes | str]] = {
    "nested 100000 deep": lambda d: "[" * 100_000 + "]" * 100_000,
    "objects nested 100000 deep": lambda d: '{"a":' * 100_000 + "1" + "}" * 100_000,
    "nested 5000 deep in inputs": lambda d: _with_inputs_value(_real_base(d), "[" * 5000 + "]" * 5000),
    "nested 150 deep in inputs": lambda d: _with_inputs_value(_real_base(d), "[" * 150 + "]" * 150),
    "1e999 in inputs": lambda d: _with_inputs_value(_real_base(d), "1e999"),
    "-1e999 as the stack": lambda d: json.dumps({"stack": 1, "hosts": {}, "resources": []}).replace("1", "-1e999"),
    "NaN in inputs": lambda d: _with_inputs_value(_real_base(d), "NaN"),
    "Infinity in inputs": lambda d: _with_inputs_value(_real_base(d), "Infinity"),
    "an integer of 5000 digits": lambda d: _with_inputs_value(_real_base(d), "9" * 5000),
    "binary": lambda d: b"\xff\xfe\x00CANARY\x9c",
    "not a plan": lambda d: '{"CANARY": 1}',
    "a name that is a number": lambda d: json.dumps({"stack": "test", "hosts": {}, "resources": [{"type": 1}]}),
}


@pytest.mark.parametrize("case", list(BASES))
def test_a_hostile_compare_base_ends_cleanly(tmp_path: Path, case: str) -> None:
    base = _base(tmp_path, BASES[case](tmp_path))
    status, stdout, stderr = _plan(tmp_path, tmp_path / "out", "--compare", str(base))
    assert status == 2, stderr
    assert stderr.startswith(f"error: --compare {base}") and "CANARY" not in stdout + stderr
    assert not (tmp_path / "out").exists()  # refused before anything is written


CONFIGS: dict[str, str] = {
    "dotted keys 5000 levels": "CANARY." * 5000 + "x = 1\n",
    "inline arrays 5000 deep": "x = " + "[" * 5000 + "]" * 5000 + "\n",
    "tables 40 levels": "[" + ".".join(["t"] * 40) + "]\nCANARY = 1\n",
}


@pytest.mark.parametrize("case", list(CONFIGS))
def test_a_base_config_toml_nested_beyond_a_plan_is_refused_by_name_before_anything_is_written(
    tmp_path: Path, case: str
) -> None:
    """The reviewer's finding: such a base exited 2 naming plan.json, after writing the new plan."""
    base = _base(tmp_path, json.dumps(_real_base(tmp_path)))
    (base / "hosts" / "edge-1").mkdir(parents=True)
    (base / "hosts" / "edge-1" / "config.toml").write_text(CONFIGS[case])
    status, stdout, stderr = _plan(tmp_path, tmp_path / "out", "--compare", str(base))
    assert status == 2, stderr
    assert stderr.startswith(f"error: --compare {base}: hosts/edge-1/config.toml is nested"), stderr
    assert "plan.json" not in stderr and "CANARY" not in stdout + stderr
    assert not (tmp_path / "out").exists()


def test_a_compare_base_that_is_a_directory_or_missing_ends_cleanly(tmp_path: Path) -> None:
    (tmp_path / "base" / "plan.json").mkdir(parents=True)
    status, _, stderr = _plan(tmp_path, tmp_path / "out", "--compare", str(tmp_path / "base"))
    assert status == 2 and "no readable plan.json" in stderr
    status, _, stderr = _plan(tmp_path, tmp_path / "out", "--compare", str(tmp_path / "nowhere"))
    assert status == 2 and "no readable plan.json" in stderr


CONTROLS = ["\x1b[31m", "\x1b]0;pwn\x07", "\r", "\x00", "\x9b2J", "\u202e", "\u2028", "\ufeff", "\x7f"]


@pytest.mark.parametrize("control", CONTROLS, ids=[f"U+{ord(c[0]):04X}" for c in CONTROLS])
def test_controls_in_a_compare_base_reach_neither_terminal_nor_impact_md(tmp_path: Path, control: str) -> None:
    document = _real_base(tmp_path)
    resources = document["resources"]
    assert isinstance(resources, list)
    # A resource only the base has: the impact deletes it, and names it on stdout and in impact.md.
    ghost = dict(resources[-1], name=f"ghost{control}name", urn=f"{resources[-1]['urn']}{control}ghost")
    hosts = document["hosts"]
    assert isinstance(hosts, dict)
    hosts[f"edge{control}2"] = {"runners": {}}
    document["resources"] = [*resources, ghost]
    base = _base(tmp_path, json.dumps(document))
    status, stdout, stderr = _plan(tmp_path, tmp_path / "out", "--compare", str(base))
    assert status in (0, 3), stderr
    written = (tmp_path / "out" / "impact.md").read_text()
    for text in (stdout, stderr, written):
        raw = {c for c in text if c not in "\n\t" and unicodedata.category(c) in UNSAFE_CATEGORIES}
        assert not raw, (sorted(map(hex, map(ord, raw))), text[-400:])
    assert "ghost" in stdout + stderr + written  # shown, escaped
