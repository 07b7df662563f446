"""One helper to mark a value secret, typed (the SDK's `Output.secret` signature defeats mypy's inference)."""

from __future__ import annotations

from typing import Any

import pulumi


def secret(value: pulumi.Input[Any]) -> pulumi.Output[Any]:
    """`value` as a secret Output: it shows as [secret] in previews, state and logs."""
    return pulumi.Output.secret(value)  # type: ignore[arg-type]
