"""runner-fleet components: spec -> fleet -> registrations, hosts (Docker, Kubernetes), CI/CD variables.

Data flow and contract: README.md. Pure modules (no Pulumi resources): model, spec parsing, runner_config,
manifests. Resource components: registration, docker_host, kubernetes_host, ci_variables, fleet.
Tooling: mock_engine (the mock-engine harness) and plan (the offline plan command).
"""
