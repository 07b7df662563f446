"""runner-fleet: GitLab runners able to build images with rootless BuildKit, one Pulumi stack per environment.

Loads and validates the stack configuration (nothing is declared if it is invalid), builds the fleet,
exports a few non-secret outputs. Everything else lives in components/.
"""

import pulumi

from components import spec
from components.fleet import RunnerFleet

config = spec.load()
fleet = RunnerFleet("fleet", config)

pulumi.export("runnerIds", fleet.runner_ids)
pulumi.export("managers", fleet.managers)
