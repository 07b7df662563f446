"""CiVariables: the project and group CI/CD variables of the stack (gitlab.ProjectVariable / GroupVariable).

A variable's identity is owner + key + environment scope, so the same key can carry different values
for `production` and `review/*` without the two overwriting each other. Values that come from a secret
config key, and every masked value, are passed as secrets (the provider does not mark `value` secret).
https://www.pulumi.com/registry/packages/gitlab/api-docs/projectvariable/ ,
https://docs.gitlab.com/ci/variables/
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_gitlab as gitlab

from components.domain import naming
from components.domain.model import ScopeKind, VariableSpec
from components.secrets import secret


@dataclass(frozen=True)
class CiVariablesArgs:
    """The variables of one stack."""

    variables: Sequence[VariableSpec]
    """Every variable, sorted by identity."""
    secrets: Mapping[str, pulumi.Output[str]]
    """Secret config values by key, for variables whose value is `secret: <key>`."""
    protect: bool = False
    """Deletion protection of every variable; off by default."""


# Named in components/domain/naming.py, where the spec's check of derived names (spec/names.py) finds it too.
resource_name = naming.variable


class CiVariables(pulumi.ComponentResource):
    def __init__(self, name: str, args: CiVariablesArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:ci_variables:CiVariables", name, None, opts)
        for var in args.variables:
            value: pulumi.Input[str]
            if var.secret is not None:
                value = secret(args.secrets[var.secret])
            elif var.masked:
                value = secret(var.value or "")
            else:
                value = var.value or ""
            fields: dict[str, Any] = {
                "key": var.key,
                "value": value,
                "masked": var.masked,
                "protected": var.protected,
                "raw": var.raw,
                "environment_scope": var.environment_scope,
                "variable_type": var.variable_type.value,
                "description": "Managed by runner-fleet",
            }
            if var.hidden is not None:
                fields["hidden"] = var.hidden
            # `hidden` replaces the variable when it changes; create-first would add a second variable with the
            # same key and scope, which GitLab refuses: a variable that declares it is deleted first.
            child = pulumi.ResourceOptions(
                parent=self, protect=args.protect, delete_before_replace=var.hidden is not None
            )
            if var.owner_kind is ScopeKind.PROJECT:
                gitlab.ProjectVariable(resource_name(var), opts=child, project=var.owner, **fields)
            else:
                gitlab.GroupVariable(resource_name(var), opts=child, group=var.owner, **fields)
        self.register_outputs({})
