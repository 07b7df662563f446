"""One helper to mark a value secret, typed as Output[Any].

`pulumi.Output.secret` alone infers Output[Never] in conditional expressions (`secret(x) if tls else None`).
"""

from __future__ import annotations

from typing import Any

import pulumi


def secret(value: pulumi.Input[Any]) -> pulumi.Output[Any]:
    """`value` as a secret Output: it shows as [secret] in previews, state and logs."""
    return pulumi.Output.secret(value)
