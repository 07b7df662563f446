"""OFFLINE TOOLING: what `pulumi up` would do, without the Pulumi CLI, credentials or network.

- `engine`: the one mock-engine harness; it runs the real program (`__main__.py` at the project root) and
  records every resource, lookup, output and warning;
- `stack_file`: reads `stacks/Pulumi.<stack>.yaml` the way the CLI hands it to the program;
- `report`: plan.json, hosts/<host>/config.toml and manifests.yaml, the tree and the per-host summary;
- `__main__`: the command, `python -m components.plan --stack-file F --out DIR`.
Nothing here is imported by the program that `pulumi up` runs.
"""
