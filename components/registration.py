"""RunnerRegistration: one GitLab runner (new creation workflow) and its `glrt-` authentication token.

Declares a `gitlab.UserRunner` (POST /api/v4/user/runners). Tags, run-untagged, locked, access level,
maximum timeout and paused are server-side settings with glrt tokens, so they live here and never in
config.toml. https://www.pulumi.com/registry/packages/gitlab/api-docs/userrunner/ ,
https://docs.gitlab.com/api/users/#create-a-runner-linked-to-a-user
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gitlab as gitlab

from components.domain import naming
from components.domain.model import RETIRING, RunnerSpec, ScopeKind
from components.domain.rotation import Registration, registrations
from components.secrets import secret


@dataclass(frozen=True)
class RunnerRegistrationArgs:
    """What one registration is made from."""

    runner: RunnerSpec
    """The runner's settings (scope, tags, access level, timeout, paused, ...)."""
    stack: str
    """The Pulumi stack name, written into the runner's description and maintenance note."""
    scope_id: pulumi.Input[int] | None
    """Numeric group or project id (the fleet resolves paths); None for instance runners."""
    protect: bool = False
    """Deletion protection of the GitLab runner; off by default."""


SCOPE_INPUTS = ("runnerType", "groupId", "projectId")
"""The inputs that make the provider replace a registration (reference/provider-semantics.json)."""


# Named in components/domain/naming.py, where the spec's check of derived names (spec/names.py) finds it too.
description = naming.description


class RunnerRegistration(pulumi.ComponentResource):
    """A runner's current registration, declared at construction; during a rotation's retiring window, the previous
    generation's too, declared by `retire` once the host that served it exists."""

    token: pulumi.Output[str]
    runner_id: pulumi.Output[str]
    retiring: Registration | None
    """The previous generation's registration while its retiring window lasts (domain/rotation.py), else None."""

    def __init__(self, name: str, args: RunnerRegistrationArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("runner-fleet:registration:RunnerRegistration", name, None, opts)
        self._args = args
        runner = args.runner
        # Without rotation, one registration named like the component; with it, the current generation's slot and,
        # during its retiring window, the previous generation's (components/domain/rotation.py).
        planned = registrations(name, runner.rotation, paused=runner.paused, protect=args.protect)
        active = self._user_runner(planned[0], args)
        self.retiring = planned[1] if len(planned) > 1 else None
        self.token = secret(active.token)  # secret end to end, whatever the engine does with secret outputs
        self.runner_id = active.id
        self.register_outputs({"runnerId": self.runner_id})

    def retire(self, after: Sequence[pulumi.Resource]) -> gitlab.UserRunner | None:
        """Declare the retiring registration (if any) after `after`: the host whose manager served it, and whose
        config.toml no longer lists it. Its pause is then applied once the manager polls the current registration
        only, never while the manager still serves nothing but a paused runner. Its token feeds nothing (the host
        takes the current registration's only), so the dependency cannot close a cycle."""
        if self.retiring is None:
            return None
        return self._user_runner(self.retiring, self._args, after)

    def _user_runner(
        self, planned: Registration, args: RunnerRegistrationArgs, after: Sequence[pulumi.Resource] = ()
    ) -> gitlab.UserRunner:
        """One registration. A retiring one is paused (no new jobs; its running ones finish) and unprotected, so
        that the run that removes it after its window is not refused."""
        runner, kind, retiring = args.runner, args.runner.scope.kind, planned.retiring
        generation = f" generation {runner.rotation.generation - retiring}" if runner.rotation else ""
        return gitlab.UserRunner(
            planned.name,
            runner_type=runner.scope.runner_type,
            group_id=args.scope_id if kind is ScopeKind.GROUP else None,
            project_id=args.scope_id if kind is ScopeKind.PROJECT else None,
            description=description(args.stack, runner.key) + (RETIRING if retiring else ""),
            maintenance_note=(
                f"Managed by runner-fleet (Pulumi stack '{args.stack}', runner '{runner.key}'{generation}). "
                "Change the stack file, not this page: the next pulumi up puts these settings back."
            ),
            tag_lists=list(runner.tags),
            untagged=runner.run_untagged,
            locked=runner.locked,
            paused=planned.paused,
            access_level=runner.access_level.value,
            # Always declared: the provider's maximum_timeout is Optional+Computed (UseStateForUnknown) and its
            # Update sends only what is declared, so a removed maximumTimeout would leave GitLab's old value in place.
            # Unset means the one hour the drain and the rotation's pause assume, and GitLab then holds jobs to it.
            maximum_timeout=runner.job_timeout,
            # A retiring registration keeps the scope its running jobs started under: a scope move replaces only the
            # current one (replacing the retiring one too would delete it, jobs and all, at the end of the run).
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=planned.protect,
                ignore_changes=list(SCOPE_INPUTS) if retiring else None,
                depends_on=list(after) or None,
            ),
        )
