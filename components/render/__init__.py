"""RENDER: pure functions from the model to files and manifests. No Pulumi, no I/O but the vendored schema.

- `config_toml`: one manager's gitlab-runner config.toml (tokens come in as plain strings at the edge);
- `manifests`: the Kubernetes objects of one manager;
- `schema`: gitlab-runner's config schema, the oracle every rendered config.toml is checked against;
- `labels`: the labels and names that mark what runner-fleet declares, shared with the plan report.

Renderers take one host's view (`model.ManagerSpec`) and speak in runner and manifest terms: a problem is
reported as a config.toml or manifest path, and mapping it back to a stack-file key is the spec's job.
A meta test imports this package in a fresh interpreter and checks that no `pulumi` module comes with it.
"""
