"""What in a change would cut running jobs short even though every step succeeds: the warnings of the impact
report (`impact.md`, stderr). Same inputs as `impact.compare`: the earlier and the new plan documents, and the
steps between them. Each warning names the resource, what happens to its jobs, and the safe way to make the change.

From the provider semantics (`reference/provider-semantics.json`): a delete runs with the *old* state's timeouts
(the provider's default when the old state had none) and the old grace period; a create-before-delete replacement
removes the old object only after every create and update of the run, without waiting for a draining pod; and a
GitLab registration that is deleted while it takes jobs fails its running jobs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from components.render import labels as marks

DOCKER_CONTAINER = "docker:index/container:Container"
DEPLOYMENT = "kubernetes:apps/v1:Deployment"
NAMESPACE = "kubernetes:core/v1:Namespace"
ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding"
USER_RUNNER = "gitlab:index/userRunner:UserRunner"
RETIRING = " (retiring)"
_UNITS = {"h": 3600, "m": 60, "s": 1}


@dataclass(frozen=True)
class Risk:
    """One way a change cuts running jobs short: the rule that found it, the resource, what happens and the fix."""

    rule: str
    """A stable id, so that a report can count findings per rule (e.g. registration-removed-while-active)."""
    resource: str
    """The resource's name."""
    message: str
    """What happens to its jobs and the safe way to make the change."""

    def __str__(self) -> str:
        return f"{self.resource}: {self.message}"


def seconds(duration: str | None) -> int | None:
    """A Pulumi duration string ("1h6m") in seconds; None for none."""
    if not duration:
        return None
    return sum(int(n) * _UNITS[u] for n, u in re.findall(r"(\d+)([hms])", duration))


def _delete_timeout(resource: Mapping[str, Any], semantics: Mapping[str, Any]) -> int:
    """The delete timeout a resource's old state gives the provider: its customTimeouts, else the default."""
    custom = seconds((resource.get("options", {}).get("customTimeouts") or {}).get("delete"))
    default = semantics["resources"][resource["type"]]["timeouts"]["delete"] or 0
    return custom if custom is not None else int(default)


def _manager_risk(step: Mapping[str, Any], old: Mapping[str, Any], semantics: Mapping[str, Any]) -> Risk | None:
    """A manager replaced or removed is stopped with its old grace, under its old delete timeout."""
    inputs = old.get("inputs", {})
    manager = marks.label_of(inputs, marks.ROLE) == marks.ROLE_MANAGER
    if step["action"] not in ("replace", "delete") or not (old["type"] == DEPLOYMENT or manager):
        return None
    if old["type"] == DOCKER_CONTAINER:
        grace = inputs.get("destroyGraceSeconds")
        if not grace:
            return Risk(
                "manager-killed-without-drain",
                old["name"],
                "its old state has no destroyGraceSeconds, so it is killed at once, jobs and all",
            )
    else:
        grace = ((inputs.get("spec") or {}).get("template") or {}).get("spec", {}).get("terminationGracePeriodSeconds")
    timeout = _delete_timeout(old, semantics)
    if grace and int(grace) > timeout:
        return Risk(
            "delete-timeout-below-drain",
            old["name"],
            f"its old state gives the delete {timeout} s, less than its drain ({grace} s): the drain is cut off and "
            "pulumi up fails. Apply the new timeouts in a pulumi up of their own first",
        )
    return None


def _registration_risk(step: Mapping[str, Any], old: Mapping[str, Any], new_timeouts: Mapping[str, int]) -> Risk | None:
    """A registration deleted or replaced while it takes jobs (not paused) fails them; a retiring one removed after
    its runner's maximumTimeout went down may still run jobs started under the longer one."""
    if old["type"] != USER_RUNNER or step["action"] not in ("replace", "delete"):
        return None
    inputs = old.get("inputs", {})
    if not inputs.get("paused"):
        return Risk(
            "registration-removed-while-active",
            old["name"],
            "the registration is removed while it takes jobs: its running jobs fail. Pause the runner "
            "(paused: true) in an earlier pulumi up, wait for its longest job, then make this change",
        )
    runner = str(inputs.get("description", "")).removesuffix(RETIRING)
    before, after = inputs.get("maximumTimeout"), new_timeouts.get(runner)
    if str(inputs.get("description", "")).endswith(RETIRING) and before and after and after < before:
        return Risk(
            "retiring-window-shortened",
            old["name"],
            f"a retiring registration goes after a window sized by the new, shorter maximumTimeout ({after} s < "
            f"{before} s): jobs started under the old one may still run. Lower maximumTimeout outside a rotation's "
            "retiring window",
        )
    return None


def _timeout_risk(step: Mapping[str, Any], old: Mapping[str, Any], new: Mapping[str, Any] | None) -> Risk | None:
    """A registration whose maximumTimeout goes down (or is declared for the first time: GitLab had no limit of its
    own for it) cuts the jobs of projects whose own timeout is longer. runner-fleet always declares it (unset: one
    hour), because the provider keeps the old value when the input disappears."""
    if old["type"] != USER_RUNNER or step["action"] != "update" or "maximumTimeout" not in step["changed"]:
        return None
    before, after = old.get("inputs", {}).get("maximumTimeout"), (new or {}).get("inputs", {}).get("maximumTimeout")
    if after is None or (before is not None and int(after) >= int(before)):
        return None
    was = f"{int(before)} s" if before is not None else "no limit of its own"
    return Risk(
        "maximum-timeout-lowered",
        old["name"],
        f"GitLab stops this runner's jobs after {int(after)} s from now on (was: {was}); jobs of projects with a "
        "longer timeout fail at that limit. Set runners.<runner>.maximumTimeout to keep longer jobs (unset means "
        "one hour)",
    )


def _namespace_risk(step: Mapping[str, Any], old: Mapping[str, Any]) -> Risk | None:
    """The job namespace or the manager's RBAC changing while the old manager pod drains."""
    if old["type"] == NAMESPACE and step["action"] in ("replace", "delete") and old["name"].endswith("-job-namespace"):
        return Risk(
            "job-namespace-deleted-under-drain",
            old["name"],
            "the old job namespace is deleted at the end of the run, with the job pods of the manager that is still "
            "draining. Pause the host's runners first, wait for their longest job, then change it",
        )
    if old["type"] == ROLE_BINDING and step["action"] in ("replace", "update") and "subjects" in step["changed"]:
        return Risk(
            "manager-rights-changed-under-drain",
            old["name"],
            "the draining manager loses its rights in the job namespace mid-drain: its running jobs fail. Pause the "
            "host's runners first",
        )
    return None


def warnings(
    base: Mapping[str, Any],
    new: Mapping[str, Any],
    steps: Iterable[Mapping[str, Any]],
    semantics: Mapping[str, Any],
) -> list[Risk]:
    """Every way the change cuts running jobs short, one each."""
    old = {r["urn"]: r for r in base["resources"]}
    now = {r["urn"]: r for r in new["resources"]}
    timeouts = {
        str(r["inputs"].get("description", "")): int(r["inputs"]["maximumTimeout"])
        for r in new["resources"]
        if r["type"] == USER_RUNNER and r["inputs"].get("maximumTimeout")
    }
    found = []
    for step in steps:
        was = old.get(step["urn"])
        if was is None:
            continue
        for risk in (
            _manager_risk(step, was, semantics),
            _registration_risk(step, was, timeouts),
            _timeout_risk(step, was, now.get(step["urn"])),
            _namespace_risk(step, was),
        ):
            if risk is not None:
                found.append(risk)
    found += _provider_changes(base, new)
    found += _instance_groups_moved(base, new)
    return found


def _instance_groups(document: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """Instance group -> (host, runner) of each autoscaled runner of a plan."""
    return {
        entry["instanceGroup"]: (host, runner)
        for host, summary in (document.get("hosts") or {}).items()
        for runner, entry in (summary.get("runners") or {}).items()
        if entry.get("instanceGroup")
    }


def _instance_groups_moved(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[Risk]:
    """An instance group that another host's manager scales after the change: the new manager starts its taskscaler
    (removing the group's instances) while the old host's manager still drains jobs on them, in the same run."""
    before, after = _instance_groups(base), _instance_groups(new)
    return [
        Risk(
            "instance-group-changes-manager",
            runner,
            f"its instance group moves from host {before[group][0]!r} to {host!r}: the new manager removes the "
            "group's instances, those running the old manager's jobs included, while the old one still drains "
            "them; remove the runner in one `pulumi up`, wait for its jobs, then add it to the new host",
        )
        for group, (host, runner) in after.items()
        if group in before and before[group][0] != host
    ]


def _provider_changes(base: Mapping[str, Any], new: Mapping[str, Any]) -> list[Risk]:
    """A provider whose connection changes (a Docker host URL, a cluster context): not modelled."""
    old = {r["urn"]: r for r in base["resources"] if str(r["type"]).startswith("pulumi:providers:")}
    return [
        Risk(
            "provider-connection-changed",
            r["name"],
            "the provider's connection settings change; runner-fleet does not model this: every resource it manages "
            "may be replaced or orphaned. Move a host by adding a new one and removing the old one",
        )
        for r in new["resources"]
        if r["urn"] in old and r.get("inputs") != old[r["urn"]].get("inputs")
    ]
