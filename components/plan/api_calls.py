"""What the real engine would ask the providers for, counted from a plan (`make bench`, README "Performance").

Per provider package: the providers configured, the lookups (invokes) the program makes on every preview and
update, the resources a first `pulumi up` creates and the reads a `pulumi preview --refresh` makes (one Read per
resource). For GitLab, the REST requests those come to, as read in terraform-provider-gitlab (the provider
pulumi-gitlab bridges; internal/provider/, commits 86448ff7 / 1c80354f / b626c5db / 06cfae37):

- `getGroup`: `GET /groups/:path`; `getProject`: `GET /projects/:path` and `GET /projects/:id/push_rule`;
- `UserRunner`: read `GET /runners/:id`; create `POST /user/runners` then `GET /runners/:id`;
- `ProjectVariable` / `GroupVariable`: read, create, update, delete one request each (one variable by key and
  `filter[environment_scope]`, never a list);
- configuring the provider: `GET /user` (`gitlab:earlyAuthCheck`, on by default), counted twice (the muxed
  provider configures two clients); none when it is false.

The GitLab client paces itself once a response carries `RateLimit-Limit`: at most 0.66 x limit/60 requests per
second; a 429 is retried (10 times by default, `gitlab:retries`) after `RateLimit-Reset`. Read in xanzy/go-gitlab
(gitlab.go), which gitlab-org/api/client-go continues; the exact client-go release the provider bundles was not
available to read. `refresh_seconds` turns a request count into the time that pacing needs.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from components.plan.engine import PlanResult, Resource

PROVIDER_PREFIX = "pulumi:providers:"
GITLAB_PROVIDER = PROVIDER_PREFIX + "gitlab"
GET_GROUP = "gitlab:index/getGroup:getGroup"
GET_PROJECT = "gitlab:index/getProject:getProject"
USER_RUNNER = "gitlab:index/userRunner:UserRunner"

LOOKUP_REQUESTS = {GET_GROUP: 1, GET_PROJECT: 2}
"""GitLab REST requests per lookup."""
CREATE_REQUESTS = {USER_RUNNER: 2}
"""GitLab REST requests per create where it is not one."""
CONFIGURE_REQUESTS = 2
"""`GET /user` per GitLab provider configured (earlyAuthCheck, both halves of the muxed provider)."""
CLIENT_PACE = 0.66
"""The GitLab client's own pace: this share of the rate limit (per second: limit / 60 x 0.66)."""


def _auth_checked(provider: Resource) -> bool:
    """Whether a GitLab provider checks its token when it starts (`gitlab:earlyAuthCheck`, on unless false)."""
    return str(provider.revealed.get("earlyAuthCheck", "true")).lower() != "false"


def _package(type_token: str) -> str:
    return type_token.removeprefix(PROVIDER_PREFIX).split(":")[0]


def count(result: PlanResult) -> dict[str, Any]:
    """Providers, lookups, creates and refresh reads per provider package, and the GitLab REST requests of the
    update pass of a first `pulumi up` (`up`: the CLI runs a preview pass before it unless `--skip-preview`), of a
    `pulumi preview --refresh` and of a plain `pulumi preview` (lookups run in every pass; with nothing to
    change, a preview reads no resource)."""
    providers = Counter(_package(r.type) for r in result.resources if r.type.startswith(PROVIDER_PREFIX))
    managed = [r for r in result.resources if r.custom and not r.type.startswith(PROVIDER_PREFIX)]
    creates = Counter(_package(r.type) for r in managed)
    lookups = Counter(i["token"] for i in result.invokes)
    distinct = {(i["token"], repr(sorted(i["args"].items()))) for i in result.invokes}
    gitlab = [r for r in managed if _package(r.type) == "gitlab"]
    fixed = sum(LOOKUP_REQUESTS.get(token, 1) * n for token, n in lookups.items())
    fixed += sum(CONFIGURE_REQUESTS for r in result.resources if r.type == GITLAB_PROVIDER and _auth_checked(r))
    return {
        "providers": dict(sorted(providers.items())),
        "lookups": dict(sorted(lookups.items())),
        "repeatedLookups": len(result.invokes) - len(distinct),
        "creates": dict(sorted(creates.items())),
        "refreshReads": dict(sorted(creates.items())),  # one Read per managed resource
        "gitlabRequests": {
            "up": fixed + sum(CREATE_REQUESTS.get(r.type, 1) for r in gitlab),
            "previewRefresh": fixed + len(gitlab),
            "preview": fixed,
        },
    }


def refresh_seconds(requests: int, limit_per_minute: int, parallel: int, latency: float) -> float:
    """Least time `requests` GitLab requests take: paced by the client under `limit_per_minute` (0: no limit),
    and by `parallel` requests in flight, each taking `latency` seconds."""
    by_parallel = requests * latency / parallel
    if not limit_per_minute:
        return by_parallel
    return max(by_parallel, requests / (limit_per_minute / 60 * CLIENT_PACE))
