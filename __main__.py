"""runner-fleet: GitLab runners able to build images with rootless BuildKit, one Pulumi stack per environment.

Loads and validates the stack configuration (nothing is declared if it is invalid), builds the fleet,
exports a few non-secret outputs. Everything else lives in components/.
"""

import gc

import pulumi

from components import spec
from components.fleet import RunnerFleet

# Every declared resource keeps its inputs, outputs and futures alive until the end of the run, and they are
# almost all freed by reference counting; the cyclic collector would rescan that growing heap again and again
# (half the run's time at 1000 runners, bench/README.md). No automatic collection: what is left uncollected is a
# few percent of the run's memory, and once everything is declared the process only waits for the engine.
gc.disable()

config = spec.load()
fleet = RunnerFleet("fleet", config)

pulumi.export("runnerIds", fleet.runner_ids)
pulumi.export("managers", fleet.managers)
pulumi.export("managerGenerations", fleet.manager_generations)
