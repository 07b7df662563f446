"""runner-fleet's rules as CrossGuard policies: one resource validation policy per rule, same functions.

Imported by `__main__.py` (which serves the pack) and by the smoke test (which must not construct
`PolicyPack`: its constructor serves forever).
"""

from __future__ import annotations

from collections.abc import Callable

from crossguard import declared, stack_of, tier_of
from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from components.policy.rules import RULES, Rule


def _validate(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        tier = tier_of(stack_of(args.urn))
        if rule.tiers is not None and tier not in rule.tiers:
            return
        resource = declared(args.resource_type, args.name, args.props, args.opts)
        for _, message in rule.check([resource]):
            report_violation(message, args.urn)

    return validate


def policies() -> list[ResourceValidationPolicy]:
    return [
        ResourceValidationPolicy(
            name=rule.id,
            description=rule.description,
            validate=_validate(rule),
            enforcement_level=EnforcementLevel.ADVISORY if rule.advisory else EnforcementLevel.MANDATORY,
        )
        for rule in RULES
    ]
