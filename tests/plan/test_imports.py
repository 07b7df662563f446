"""plan.imports: `pulumi import` commands that adopt existing variables under runner-fleet's names."""

from __future__ import annotations

import inspect
import re
import shlex

import pulumi_gitlab as gitlab

from components.plan import imports
from tests.conftest import Plan
from tests.fleets import fleet

VARIABLES = [
    {"project": "acme/app", "key": "DEPLOY_HOST", "value": "deploy.acme.test", "environmentScope": "production"},
    {"group": 7, "key": "LOG_LEVEL", "value": "info"},
]


def test_the_id_format_is_the_one_the_sdk_documents() -> None:
    documented = {
        gitlab.ProjectVariable: ("project", "`project:key:environment_scope`"),
        gitlab.GroupVariable: ("group", "`groupid:variablename:scope`"),
    }
    for cls, (owner, pattern) in documented.items():
        doc = inspect.getsource(inspect.getmodule(cls))  # the SDK's docs of the resource, Import section included
        assert pattern in doc, cls  # owner, key, environment scope: the order import_id writes
        (example,) = set(re.findall(r"pulumi import (gitlab:index/\w+:\w+) example '?([^'\s]+)'?", doc))
        assert imports.VARIABLE_TYPES[example[0]] == owner
        assert imports.import_id("12345", example[1].split(":")[1], "*") == example[1]


def test_one_command_per_variable_under_its_declared_name_parent_and_provider(plan: Plan) -> None:
    result = plan(fleet(variables=VARIABLES, tier="production"))
    lines = imports.commands(result)
    declared = {r.name: r for r in result.resources if r.type in imports.VARIABLE_TYPES}
    assert len(lines) == len(declared) == 2
    for line in lines:
        words = shlex.split(line)
        assert words[:2] == ["pulumi", "import"]
        res = declared[words[3]]
        assert words[2] == res.type
        assert words[words.index("--parent") + 1] == res.parent
        assert words[words.index("--provider") + 1].startswith("gitlab=urn:pulumi:")
        assert "--protect=true" in words and "--generate-code=false" in words
    ids = {shlex.split(line)[4] for line in lines}
    assert ids == {"acme/app:DEPLOY_HOST:production", "7:LOG_LEVEL:*"}
    assert imports.script(result).startswith("#!/bin/sh\n")
