"""READ AND JUDGE: the stack configuration, read once, checked whole, turned into the frozen model. Declares nothing.

- `keys`: every stack key as data (type, bound, message, model field, doc line);
- `problems`: the problem collector and `SpecError`; `reader`: reads a map by its key table;
- `hosts`, `runners`, `variables`: one parser per section, adding the rules that tie keys together;
- `fleet_checks`, `extra_config`: whole-fleet rules (namespaces, secret references, warnings, what extraConfig
  may say, the rendered config.toml against gitlab-runner's schema);
- `parse`: `parse_spec`, pure, from raw values to `model.FleetSpec` or `SpecError`;
- `docs`: the key tables as documentation (`Pulumi.yaml`'s config block is generated from them);
- `config`: `load()`, the one place that reads `pulumi.Config`.
"""

from components.spec.config import FleetConfig, GitlabConnection, load
from components.spec.parse import parse_spec
from components.spec.problems import SpecError

__all__ = ["FleetConfig", "GitlabConnection", "SpecError", "load", "parse_spec"]
