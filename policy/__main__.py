"""The runner-fleet policy pack: `pulumi preview --policy-pack policy` (`make policy` sets up its virtualenv)."""

import sys
from pathlib import Path


def main() -> None:
    here = Path(__file__).resolve().parent
    sys.path[:0] = [str(here), str(here.parent)]  # runner_fleet_pack and crossguard; the project's components
    from pulumi_policy import PolicyPack
    from runner_fleet_pack import policies

    PolicyPack(name="runner-fleet", policies=policies())  # serves the engine until it is stopped


main()
