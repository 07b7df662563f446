"""Synthetic fleets: N runners over N/10 hosts (a quarter on Kubernetes), two variables per runner, several
registrations per group and project path, and a slightly changed copy for `--compare`."""

from __future__ import annotations

import copy
from typing import Any


def fleet(runners: int) -> dict[str, Any]:
    """Stack values (without the project prefix) for `runners` runners."""
    hosts: dict[str, Any] = {}
    for h in range(max(1, runners // 10)):
        if h % 4 == 3:
            hosts[f"k{h}"] = {"kubernetes": {"context": f"cluster-{h % 3}", "namespace": f"ci-{h}"}}
        else:
            hosts[f"d{h}"] = {"docker": {"host": f"ssh://ci@d{h}.bench.test"}, "concurrent": 8}
    keys = sorted(hosts)
    fleet_runners: dict[str, Any] = {}
    variables: list[dict[str, Any]] = []
    for r in range(runners):
        group = f"bench/g{r % 25}"
        scope = {"group": group} if r % 2 else {"project": f"{group}/p{r % 60}"}
        fleet_runners[f"r{r}"] = {
            "host": keys[r % len(keys)],
            "scope": scope,
            "tags": [f"t{r}", "bench"],
            "buildkit": r % 3 == 0,
            "maximumTimeout": 3600 + 60 * (r % 5),
        }
        variables.append({"group": group, "key": f"R{r}_GROUP", "value": f"v{r}"})
        variables.append({"project": f"{group}/p{r % 60}", "key": f"R{r}_PROJECT", "value": f"w{r}"})
    return {
        "gitlabUrl": "https://gitlab.bench.test",
        "hosts": hosts,
        "runners": fleet_runners,
        "variables": variables,
    }


def changed(values: dict[str, Any]) -> dict[str, Any]:
    """The same fleet with a few changes: a runner added, one runner's tags and one variable's value changed."""
    new = copy.deepcopy(values)
    first = next(iter(new["runners"]))
    new["runners"][first]["tags"] = ["changed"]
    new["runners"]["added"] = dict(new["runners"][first], tags=["added"])
    new["variables"][0]["value"] = "changed"
    return new
