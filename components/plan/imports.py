"""`pulumi import` commands that adopt a stack's existing CI/CD variables under the names runner-fleet gives them.

Adopting a fleet (README "Adopting existing runners and variables"): runner registrations cannot be imported
(GitLab returns a `glrt-` token only when a runner is created), but variables can. Each command imports one
variable as the resource the program declares: its resource name, its parent (the CiVariables component) and
its provider, with the provider's id format (`<project or group>:<key>:<environment scope>`, as the
pulumi-gitlab SDK documents it), and with the deletion protection the stack asks for. After the imports,
`pulumi preview` shows the variables as unchanged (or updates of their value), never as creates.
"""

from __future__ import annotations

import shlex

from components.plan.engine import PlanResult

VARIABLE_TYPES = {
    "gitlab:index/projectVariable:ProjectVariable": "project",
    "gitlab:index/groupVariable:GroupVariable": "group",
}
"""The variable resource types and the input that names their owner."""


def import_id(owner: str, key: str, environment_scope: str) -> str:
    """The id `pulumi import` takes for a project or group variable."""
    return f"{owner}:{key}:{environment_scope}"


def commands(result: PlanResult) -> list[str]:
    """One `pulumi import` command per declared variable, in declaration order."""
    by_urn = {r.urn: r for r in result.resources}
    providers = {r.name: r.urn for r in result.resources if r.type.startswith("pulumi:providers:")}
    lines = []
    for res in result.resources:
        owner_input = VARIABLE_TYPES.get(res.type)
        if owner_input is None:
            continue
        inputs = res.revealed
        identity = import_id(str(inputs[owner_input]), str(inputs["key"]), str(inputs.get("environmentScope", "*")))
        parts = ["pulumi", "import", res.type, res.name, identity]
        if res.parent in by_urn:
            parts += ["--parent", res.parent]
        provider = res.options.get("provider")
        if provider in providers:
            parts += ["--provider", f"{provider}={providers[provider]}"]
        parts += [f"--protect={'true' if res.options.get('protect') else 'false'}", "--generate-code=false"]
        lines.append(shlex.join(parts))
    return lines


def script(result: PlanResult) -> str:
    """imports.sh: the commands, with what they are for."""
    header = (
        "#!/bin/sh\n"
        f"# Adopt the existing CI/CD variables of stack '{result.stack}' (README: Adopting existing runners).\n"
        "# Run with the stack selected and gitlab:token set in it (the provider's token); then `pulumi preview`.\n"
        "set -eu\n"
    )
    return header + "".join(line + "\n" for line in commands(result))
