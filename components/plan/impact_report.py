"""impact.md: what merging a change does, for the reviewer of the merge request (and its runner-fleet note).

Counts first; then what needs attention (jobs at risk, hosts without a manager taking jobs, blocked steps); then
per host that changes: its capacity through the change, every replaced, deleted and drained resource by name, the
registration settings that change in GitLab only, and the config.toml diff its manager will load (```diff, masked
by components/plan/config_diff.py). Names and reasons may come from a compare base edited by anyone: no control
character reaches a reader raw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from components.plan.capacity import duration
from components.plan.console import EXAMPLES, grouped
from components.plan.risks import Risk
from components.spec.safe_text import escape_controls

ACTIONS = ("create", "update", "replace", "delete")
MAX_NAMES = 20
"""Created or updated resources named per host; replaced, deleted and drained ones are always all named."""


def _code(names: Iterable[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _value(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"`{v}`" for v in value) or "(none)"
    return "(unset)" if value is None else f"`{value}`"


def _risks(at_risk: Sequence[Risk]) -> list[str]:
    return grouped(
        ((r.rule, r.resource, r.message) for r in at_risk),
        lambda rule, resource, message: f"- :warning: **running jobs at risk** (`{rule}`): {resource}: {message}",
        lambda rule, found: (
            f"- :warning: **running jobs at risk** (`{rule}`, {len(found)} resources: "
            f"{_code(r for r, _ in found)}): {found[0][1]}"
        ),
    )


def _attention(impact: Mapping[str, Any], at_risk: Sequence[Risk]) -> list[str]:
    lines = _risks(at_risk)
    for host, entry in impact["hosts"].items():
        cap = entry.get("capacity") or {}
        if cap.get("before") and cap.get("lowest") == 0:
            lines.append(f"- :rotating_light: **host {host}: {entry['capacityLine']}**")
    for step in impact["resources"]:
        if step["blocked"]:
            block = step["blocked"]
            lines.append(f"- **blocked**: {step['action']} {step['name']}: {block['reason']}; {block['fix']}")
    return lines


def _host_section(host: str, entry: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> list[str]:
    drain = f" (up to {entry['drainSeconds']} s)" if entry["effect"] in ("drain", "roll") else ""
    lines = ["", f"#### host `{host}`: {entry['effect']}{drain}", "", f"- {entry['why']}"]
    if entry.get("capacityLine"):
        lines.append(f"- capacity: {entry['capacityLine']}")
    for step in (s for s in steps if s["action"] == "replace"):
        forced = f", because {', '.join(step['forcedBy'])} changed" if step["forcedBy"] else ""
        order = step.get("order", "")
        order = f", **{order}**" if order == "delete-before-replace" else f", {order}" if order else ""
        lines.append(f"- replaced: `{step['name']}` ({step['type']}{forced}{order})")
    if entry["names"]["deleted"]:
        lines.append(f"- deleted: {_code(entry['names']['deleted'])}")
    for rolled in (entry.get("capacity") or {}).get("rolled", []):
        lines.append(
            f"- drained: the old pods of `{rolled['name']}` (a new pod takes jobs first; each old one finishes "
            f"its running jobs: up to {duration(rolled['drainSeconds'])})"
        )
    for drained in (entry.get("capacity") or {}).get("drained", []):
        lines.append(
            f"- drained: `{drained['name']}` (stops taking jobs, finishes its running ones: up to "
            f"{duration(drained['drainSeconds'])})"
        )
    for action in ("created", "updated"):
        names = entry["names"][action]
        if names:
            more = f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else ""
            lines.append(f"- {action}: {_code(names[:MAX_NAMES])}{more}")
    lines += _registrations(entry.get("registrations") or [])
    lines += _diff(host, entry)
    return lines


def _registrations(changes: Sequence[Mapping[str, Any]]) -> list[str]:
    if not changes:
        return []
    lines = ["- registration settings that change in GitLab only (config.toml does not carry them):"]
    for change in changes:
        parts = [f"{key} {_value(was)} → {_value(now)}" for key, (was, now) in change["changes"].items()]
        lines.append(f"  - runner `{change['runner']}` (`{change['resource']}`): {'; '.join(parts)}")
    return lines


def _diff(host: str, entry: Mapping[str, Any]) -> list[str]:
    found = entry.get("configDiff")
    if not found:
        return []
    if found["unreadable"]:
        return [f"- config.toml: one of the two plans' hosts/{host}/config.toml is not TOML: no diff"]
    lines = []
    if found["diff"]:
        lines += ["- config.toml the manager will load (values not known to be non-secret masked):", "", "```diff"]
        lines += [line.replace("```", "'''") for line in found["diff"]]
        lines += ["```", ""]
    if found["hidden"]:
        shown = _code(found["hidden"][: EXAMPLES * 3])
        more = f" and {len(found['hidden']) - EXAMPLES * 3} more" if len(found["hidden"]) > EXAMPLES * 3 else ""
        lines.append(f"- config.toml values not shown (masked) change at: {shown}{more}")
    return lines


def _others(impact: Mapping[str, Any]) -> list[str]:
    """Replaced and deleted resources that no host owns (registrations, variables), all named."""
    lines = []
    for action, title in (("replace", "replaced"), ("delete", "deleted")):
        names = [s["name"] for s in impact["resources"] if s["action"] == action and not s.get("host")]
        if names:
            lines.append(f"- {title}: {_code(names)}")
    return lines


def markdown(impact: Mapping[str, Any], stack: str, at_risk: Sequence[Risk] = ()) -> str:
    """impact.md for one stack."""
    counts = {a: sum(s["action"] == a for s in impact["resources"]) for a in ACTIONS}
    effects: dict[str, int] = {}
    for entry in impact["hosts"].values():
        effects[entry["effect"]] = effects.get(entry["effect"], 0) + 1
    lines = [f"### runner-fleet `{stack}`: what this change does", ""]
    lines.append(
        "**"
        + ", ".join(f"{n} to {a}" for a, n in counts.items())
        + "** (resources); hosts: "
        + ", ".join(f"{n} {e}" for e, n in sorted(effects.items()))
    )
    attention = _attention(impact, at_risk)
    lines += ["", *attention] if attention else []
    by_host: dict[str, list[Mapping[str, Any]]] = {}
    for step in impact["resources"]:
        by_host.setdefault(step.get("host") or "", []).append(step)
    for host, entry in impact["hosts"].items():
        if entry["effect"] != "none" or by_host.get(host) or entry.get("configDiff") or entry.get("registrations"):
            lines += _host_section(host, entry, by_host.get(host, []))
    runners = [(k, e) for k, e in impact["runners"].items() if e["effect"] != "none"]
    others = _others(impact)
    if runners or others:
        lines += ["", "#### runners and other resources", ""]
        lines += [f"- runner **{key}**: {e['effect']}: {e['why']}" for key, e in runners] + others
    if not any(counts.values()):
        lines += ["", "- no host, runner or variable changes"]
    return "\n".join(escape_controls(line) for line in lines) + "\n"
