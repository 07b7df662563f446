"""The policies' gate in the offline plan: the rules of `components/policy` over what the program declared.

The records of a mock-engine run become `policy.resources.Declared` (a secret input is a `Secret`, as the
engine has it); the stack's tier is read from its config as the program would read it. Mandatory violations
make the plan command exit 3 after writing its output; advisory ones are printed as warnings. The gate runs every
rule, the gate-only ones too (`Rule.gate_only`: whether an input reached the engine wrapped as a secret, which only
these records show: the CrossGuard pack sees secrets unwrapped and leaves those rules out).
"""

from __future__ import annotations

from typing import Any

from components.domain.model import PROJECT, Tier
from components.plan import engine
from components.plan.engine import PlanResult
from components.policy.resources import Declared, Secret
from components.policy.rules import Violation, evaluate

EXIT_POLICY = 3


def _marked(value: Any) -> Any:
    if engine.is_secret(value):
        return Secret(_marked(value["value"]))
    if isinstance(value, dict):
        return {k: _marked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_marked(v) for v in value]
    return value


def declared(result: PlanResult) -> list[Declared]:
    """The run's resources as the policies see them."""
    return [
        Declared(
            type=r.type,
            name=r.name,
            inputs=_marked(r.inputs),
            protect=bool(r.options.get("protect")),
            secret_outputs=tuple(r.options.get("additionalSecretOutputs") or ()),
        )
        for r in result.resources
    ]


def tier_of(config: dict[str, str]) -> Tier:
    """The stack's tier from its config (Pulumi.yaml's default is injected already); a bad one is the spec's problem."""
    value = config.get(f"{PROJECT}:tier", Tier.DEVELOPMENT.value)
    return Tier(value) if value in {t.value for t in Tier} else Tier.DEVELOPMENT


def check(result: PlanResult, config: dict[str, str]) -> list[Violation]:
    return evaluate(declared(result), tier_of(config))
