"""runner-fleet's rules as CrossGuard policies: same functions, one policy per rule.

A rule about one resource at a time becomes a resource validation policy; a rule that relates resources
(`Rule.whole_stack`: a manager and its NetworkPolicy, a namespace and its admission guard) becomes a stack
validation policy over every resource of the stack. A rule only the offline plan can judge (`Rule.gate_only`:
whether an input reached the engine wrapped as a secret, which pulumi-policy never shows a policy) is left out.
A violation's message starts with what it is about (`<resource name>: `, or `<carrier> (runner <name>): ` for a
config.toml entry), as the offline plan names it; its URN is the resource's (the carrier's for an entry).
Imported by `__main__.py` (which serves the pack), by the smoke test and by tests/policy/crossguard_analyzer.py (which
must not construct `PolicyPack`: its constructor serves forever).
"""

from __future__ import annotations

from collections.abc import Callable

from crossguard import declared, findings, stack_of
from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.domain.model import PROJECT
from components.policy.resources import resource_named
from components.policy.rules import RULES, Rule


def _validate_resource(rule: Rule) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        resource = declared(args.resource_type, args.name, args.props, args.opts)
        for name, message in findings(rule, [resource], stack_of(args.urn)):
            report_violation(f"{name}: {message}", args.urn)

    return validate


def _validate_stack(rule: Rule) -> Callable[[StackValidationArgs, ReportViolation], None]:
    def validate(args: StackValidationArgs, report_violation: ReportViolation) -> None:
        if not args.resources:
            return
        resources = [declared(r.resource_type, r.name, r.props, r.opts) for r in args.resources]
        # A component shares its name with the resource it wraps (RunnerRegistration and UserRunner): rules judge
        # the resources the providers manage, never our components.
        urns = {r.name: r.urn for r in args.resources if not r.resource_type.startswith(f"{PROJECT}:")}
        for name, message in findings(rule, resources, stack_of(args.resources[0].urn)):
            report_violation(f"{name}: {message}", urns.get(resource_named(name)))

    return validate


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    built: list[ResourceValidationPolicy | StackValidationPolicy] = []
    for rule in (r for r in RULES if not r.gate_only):
        level = EnforcementLevel.ADVISORY if rule.advisory else EnforcementLevel.MANDATORY
        if rule.whole_stack:
            built.append(StackValidationPolicy(rule.id, rule.description, _validate_stack(rule), level))
        else:
            built.append(ResourceValidationPolicy(rule.id, rule.description, _validate_resource(rule), level))
    return built
