"""The stack file reader's libyaml path builds exactly what PyYAML's pure-Python loader builds, or defers to it.

`stack_file._read` parses with libyaml and composes/constructs with our strict Python classes; whatever libyaml
refuses is read again by `_StrictLoader`. So for any text the result (value or error) must be `_StrictLoader`'s.
"""

from __future__ import annotations

import string
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.fleets import fleet
from components.plan import stack_file
from tests.conftest import ROOT
from tests.fleets import COMPANY, FLEET
from tests.plan.test_hostile_files import CORPUS


def _outcome(read: Any, text: str) -> tuple[str, Any]:
    try:
        return "value", read(text)
    except yaml.YAMLError as exc:
        return "error", (type(exc).__name__, getattr(exc, "problem", None), str(getattr(exc, "problem_mark", "")))
    except (RecursionError, ValueError) as exc:
        return "error", type(exc).__name__


def _pure(text: str) -> Any:
    return yaml.load(text, Loader=stack_file._StrictLoader)


def test_libyaml_is_there_so_the_fast_path_is_taken() -> None:
    assert stack_file._FAST_LOADER is not None, "PyYAML without libyaml: plans still work, only slower"


@pytest.mark.parametrize("case", CORPUS, ids=[c[0] for c in CORPUS])
def test_every_hostile_file_reads_as_the_pure_loader_reads_it(case: tuple[str, bytes, int, str]) -> None:
    try:
        text = case[1].decode("utf-8")
    except UnicodeDecodeError:
        pytest.skip("not UTF-8: refused before any YAML is read")
    assert _outcome(stack_file._read, text) == _outcome(_pure, text)


@pytest.mark.parametrize("values", [fleet(200), FLEET, COMPANY], ids=["bench-200", "fleet", "company"])
def test_fleets_read_the_same_either_way(values: dict[str, Any]) -> None:
    text = yaml.safe_dump({"config": values}, sort_keys=False)
    assert stack_file._FAST_LOADER is not None
    assert yaml.load(text, Loader=stack_file._FAST_LOADER) == _pure(text)


# Pieces of YAML syntax, and characters, where libyaml and PyYAML could part ways; tab, `!` and `?` among them.
_PIECES = [
    "a", "b", ":", ": ", "- ", "\n", "  ", "\n- ", "\n  ", "\n    ", "'", '"', "''", '""', "[", "]", "{", "}", ",",
    "#", " #", "&x ", "*x", "<<: ", "yes", "0755", "1:30", "2024-01-01", "0x1F", "1_000", "~", "null", "-1", "3.5",
    ".inf", "---\n", "...\n", "%YAML 1.1\n", "%TAG ", "\\", "\\u00e9", "\\ud800", "\\x85", "\\t", "|\n", ">\n",
    "|-\n", "|+\n", "|2\n", ">-2\n", "| # c\n", "|#", ">#", "|x", "a > b", "<token>", "||", "|0\n", "[|]",
    "\t", "!", "!!set ", "!!str ", "? ", "é", "\x85", "\u2028", "\ufeff", "\r", "|-", "|+", "|2", ">-", ">+9", "1-",
    "#x", " #x", "|2#", "|-#", ">+#",
]  # fmt: skip
_TEXT = st.lists(st.sampled_from(_PIECES) | st.text(string.printable, max_size=3), max_size=30).map("".join)


@settings(max_examples=600, deadline=None)
@given(_TEXT.filter(stack_file._fast))
def test_text_libyaml_reads_reads_as_the_pure_loader_reads_it(text: str) -> None:
    assert _outcome(stack_file._read, text) == _outcome(_pure, text)


@settings(max_examples=200, deadline=None)
@given(_TEXT)
def test_any_text_reads_as_the_pure_loader_reads_it(text: str) -> None:
    assert _outcome(stack_file._read, text) == _outcome(_pure, text)


@pytest.mark.parametrize("text", ["a: |2#x\n  b", "a: |-#", "a: >+#\n  b\n", "a: |1-#c\n  b\n", "a: >#\n  b\n"])
def test_block_scalar_headers_running_into_a_comment_are_refused_as_pyyaml_refuses_them(text: str) -> None:
    assert not stack_file._fast(text)
    with pytest.raises(yaml.scanner.ScannerError):
        stack_file._read(text)


def test_the_shipped_stacks_and_generated_fleets_take_the_fast_path() -> None:
    for name in ("dev", "prod"):
        assert stack_file._fast((ROOT / "stacks" / f"Pulumi.{name}.yaml").read_text()), name
    assert stack_file._fast(yaml.safe_dump({"config": fleet(50)}, sort_keys=False))
