"""What of a StackSpec stackpilot keeps: everything but secret values."""

from __future__ import annotations

from typing import Any

from functions.stacks.models.spec import StackSpec, spec_without_secrets


def stored_spec(spec: StackSpec) -> dict[str, Any]:
    """The spec as stored and shown: each secret env name stays, its value masked. The values go
    straight into the customer's own Secrets Manager (the task definition references them)."""
    return spec_without_secrets(spec)
