"""gitlab-runner's own config schema: the oracle every rendered config.toml is checked against.

The schema is vendored in `schemas/` (see its README) and belongs to the pinned runner line; a key the runner
does not know, or a value of the wrong type, is an error with its path in config.toml terms.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jsonschema

from components.domain import versions

SCHEMA_PATH = (
    Path(__file__).resolve().parents[2] / "schemas" / f"gitlab-runner-{versions.RUNNER_VERSION}-config.schema.json"
)


@functools.lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))


def errors(document: Mapping[str, Any]) -> list[tuple[list[str | int], str]]:
    """(path in the document, message) for every way `document` breaks gitlab-runner's config schema."""
    found = sorted(_validator().iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))
    return [(list(e.absolute_path), e.message) for e in found]
