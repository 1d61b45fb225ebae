"""What of a StackSpec stackpilot keeps: everything but secret values."""

from __future__ import annotations

from typing import Any

from functions.stacks.exceptions import InvalidStackRequest
from functions.stacks.models.spec import StackSpec


def stored_spec(spec: StackSpec) -> dict[str, Any]:
    """The spec as stored and shown. Secret env values are to go straight into the customer's own
    Secrets Manager (the task definition referencing them); until that path exists they are refused
    rather than kept."""
    if spec.container.secret_env:
        raise InvalidStackRequest(
            "container.secret_env",
            "secret environment values are not accepted yet (they will be written straight into your "
            "account's Secrets Manager); use env for non-secret values",
        )
    return spec.model_dump(mode="json", exclude={"container": {"secret_env"}})
