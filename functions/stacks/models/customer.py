"""What a customer's account says about its stacks, as stackpilot reads it (CloudFormation's
answers, narrowed to what the use cases need)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CfnStack:
    """DescribeStacks of one stack."""

    stack_id: str
    status: str
    reason: str | None
    outputs: dict[str, str]


@dataclass(frozen=True)
class ChangeSet:
    """A change set once CloudFormation has settled it."""

    change_set_id: str
    stack_id: str
    status: str  # CREATE_COMPLETE | FAILED
    reason: str | None
    changes: list[dict[str, Any]]
    #: FAILED only because it would change nothing (CloudFormation's way of saying so)
    empty: bool = False


@dataclass(frozen=True)
class StackSummary:
    """One entry of ListStacks: all the reconcile sweep compares (no DescribeStacks per stack)."""

    stack_id: str
    name: str
    status: str
    reason: str | None
