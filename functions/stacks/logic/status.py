"""Every CloudFormation stack status, classified: is the operation still running, and if not, how
did it end and what does that mean for the user's stack.

The table is total over CloudFormation's ``StackStatus`` enumeration (a test reads the enumeration
from botocore's service model, so a status AWS adds later fails it until classified here).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from functions.shared.logic.aws_messages import cancelled_sibling


class Outcome(StrEnum):
    RUNNING = "running"  # CloudFormation is still working: keep waiting
    SUCCEEDED = "succeeded"  # the operation did what was asked
    ROLLED_BACK = "rolled_back"  # it failed, CloudFormation undid it cleanly
    FAILED = "failed"  # it failed and the stack is left as is (nothing more will happen on its own)
    DELETED = "deleted"  # the stack is gone


class Health(StrEnum):
    """What the user's stack is, once CloudFormation has settled."""

    READY = "READY"  # running the last good version
    FAILED = "FAILED"  # not running anything usable: needs action (delete, or retry)
    DELETED = "DELETED"


@dataclass(frozen=True)
class Classified:
    outcome: Outcome
    health: Health | None  # None while running
    needs_attention: bool  # a human must act (e.g. *_ROLLBACK_FAILED, DELETE_FAILED)


_R = Classified(Outcome.RUNNING, None, False)

STATUSES: dict[str, Classified] = {
    "REVIEW_IN_PROGRESS": _R,  # a CREATE change set exists, not executed yet
    "CREATE_IN_PROGRESS": _R,
    "CREATE_COMPLETE": Classified(Outcome.SUCCEEDED, Health.READY, False),
    "CREATE_FAILED": Classified(Outcome.FAILED, Health.FAILED, True),  # rollback disabled
    "ROLLBACK_IN_PROGRESS": _R,
    "ROLLBACK_COMPLETE": Classified(Outcome.ROLLED_BACK, Health.FAILED, False),  # creation failed
    "ROLLBACK_FAILED": Classified(Outcome.FAILED, Health.FAILED, True),
    "UPDATE_IN_PROGRESS": _R,
    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS": _R,
    "UPDATE_COMPLETE": Classified(Outcome.SUCCEEDED, Health.READY, False),
    "UPDATE_FAILED": Classified(Outcome.FAILED, Health.FAILED, True),  # rollback disabled
    "UPDATE_ROLLBACK_IN_PROGRESS": _R,
    "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS": _R,
    # The update failed and was undone: the previous version still runs.
    "UPDATE_ROLLBACK_COMPLETE": Classified(Outcome.ROLLED_BACK, Health.READY, False),
    "UPDATE_ROLLBACK_FAILED": Classified(Outcome.FAILED, Health.FAILED, True),
    "DELETE_IN_PROGRESS": _R,
    "DELETE_COMPLETE": Classified(Outcome.DELETED, Health.DELETED, False),
    "DELETE_FAILED": Classified(Outcome.FAILED, Health.FAILED, True),
    "IMPORT_IN_PROGRESS": _R,
    "IMPORT_COMPLETE": Classified(Outcome.SUCCEEDED, Health.READY, False),
    "IMPORT_ROLLBACK_IN_PROGRESS": _R,
    "IMPORT_ROLLBACK_COMPLETE": Classified(Outcome.ROLLED_BACK, Health.READY, False),
    "IMPORT_ROLLBACK_FAILED": Classified(Outcome.FAILED, Health.FAILED, True),
}


class UnknownStatus(ValueError):
    pass


def classify(status: str) -> Classified:
    try:
        return STATUSES[status]
    except KeyError:
        raise UnknownStatus(f"unknown CloudFormation stack status {status!r}") from None


def settled(status: str) -> bool:
    return classify(status).outcome is not Outcome.RUNNING


FAILED_RESOURCE_STATUSES = frozenset({"CREATE_FAILED", "UPDATE_FAILED", "DELETE_FAILED", "IMPORT_FAILED"})


@dataclass(frozen=True)
class RootCause:
    logical_id: str
    resource_type: str
    reason: str


def root_cause(
    events_newest_first: list[dict[str, object]], operation_started_at: object = None
) -> RootCause | None:
    """The first resource that failed in the latest operation: CloudFormation lists events newest
    first, and a failure's siblings fail after it with 'Resource creation cancelled'."""
    failures = [
        e
        for e in events_newest_first
        if e.get("ResourceStatus") in FAILED_RESOURCE_STATUSES
        and e.get("LogicalResourceId") != e.get("StackName")
        and (operation_started_at is None or _not_before(e.get("Timestamp"), operation_started_at))
    ]
    if not failures:
        return None
    real = [e for e in failures if not cancelled_sibling(str(e.get("ResourceStatusReason") or ""))]
    first = (real or failures)[-1]  # the oldest
    return RootCause(
        logical_id=str(first.get("LogicalResourceId") or ""),
        resource_type=str(first.get("ResourceType") or ""),
        reason=str(first.get("ResourceStatusReason") or "no reason given"),
    )


def _not_before(timestamp: object, started: object) -> bool:
    try:
        return bool(timestamp >= started)  # type: ignore[operator]
    except TypeError:
        return True
