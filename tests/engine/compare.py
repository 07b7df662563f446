"""What the next `pulumi up` would do after a refresh: declared Terraform attributes against what Read returned.

Terraform SDKv2 semantics, as far as runner-fleet's inputs need them: sets are unordered; inside blocks an unset
field equals its zero value (SDKv2 stores and hashes absent nested primitives as zero) or its nested default; an
attribute the program does not declare differs only if it is not Computed and Read set something other than its
schema default (or the empty value); a DiffSuppressFunc that treats "" as a no-op is honoured; `ignoreChanges`
(SDK names) are honoured. Each difference is a replace when its top-level SDK input is a replace key in
`reference/provider-semantics.json` (the project's vendored table), else an update.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.engine.provider import SCHEMAS, Attr

SEMANTICS = json.loads((Path(__file__).resolve().parents[2] / "reference" / "provider-semantics.json").read_text())


@dataclass(frozen=True)
class Difference:
    resource: str
    attribute: str  # the SDK input name (what a Pulumi preview shows)
    declared: Any
    stored: Any
    action: str  # "replace" or "update"

    def __str__(self) -> str:
        return (
            f"{self.resource}: {self.attribute} would {self.action}: declared {json.dumps(self.declared)}, "
            f"stored {json.dumps(self.stored)}"
        )


_EMPTY = {"str": "", "int": 0, "bool": False, "list": [], "set": [], "map": {}, "blocks": [], "blocklist": []}


def _block(value: dict[str, Any], defaults: tuple[tuple[str, Any], ...]) -> dict[str, Any]:
    merged = dict(defaults) | {k: v for k, v in value.items() if v not in (None, "")}
    out = {}
    for key, item in merged.items():
        if isinstance(item, list):
            item = sorted(json.dumps(x, sort_keys=True) for x in item)  # nested sets (capabilities add/drop)
        if item not in (None, "", 0, False, [], {}):
            out[key] = item
    return out


def normalize(attr: Attr, value: Any) -> Any:
    if value is None:
        value = _EMPTY[attr.kind]
    if attr.kind == "set":
        return sorted(value)
    if attr.kind == "map":
        return {k: str(v) for k, v in value.items()}
    if attr.kind in ("blocks", "blocklist"):
        items = [json.dumps(_block(v, attr.nested_defaults), sort_keys=True) for v in value]
        return sorted(items) if attr.kind == "blocks" else items
    if attr.kind == "int":
        return int(value)
    return value


def _computed_from(declared: list[Any], stored: list[Any], computed: tuple[str, ...]) -> list[Any]:
    """Declared blocks with the computed fields they leave out taken from what Read stored (same position: a list)."""
    if len(declared) != len(stored):
        return declared
    out = []
    for mine, theirs in zip(declared, stored, strict=True):
        unset = [k for k in computed if mine.get(k) in (None, 0) and isinstance(theirs, dict) and k in theirs]
        out.append(mine | {k: theirs[k] for k in unset})
    return out


def sdk_name(tf_name: str, inputs: dict[str, str]) -> str:
    """The SDK input name of a Terraform attribute: the emulated renames, else camelCase."""
    renamed = {tf: sdk for sdk, tf in inputs.items()}
    return renamed.get(tf_name) or re.sub(r"_([a-z])", lambda m: m.group(1).upper(), tf_name)


def differences(
    resource: str, resource_type: str, declared: dict[str, Any], stored: dict[str, Any], ignore: list[str]
) -> list[Difference]:
    """Every attribute Read set that differs from what the program declares (Terraform's diff after refresh)."""
    inputs, schema = SCHEMAS[resource_type]
    replace_keys = set(SEMANTICS["resources"][resource_type]["replaceOnChange"])
    found = []
    for tf_name, value in sorted(stored.items()):
        attr = schema[tf_name]
        name = sdk_name(tf_name, inputs)
        if name in ignore:
            continue
        if tf_name in declared:
            expected = declared[tf_name]
            if attr.suppress_empty and expected == "":
                continue
        elif attr.computed:
            continue
        else:
            expected = attr.default
        if attr.nested_computed and isinstance(expected, list) and isinstance(value, list):
            expected = _computed_from(expected, value, attr.nested_computed)
        if normalize(attr, expected) != normalize(attr, value):
            action = "replace" if name in replace_keys else "update"
            found.append(Difference(resource, name, expected, value, action))
    return found
