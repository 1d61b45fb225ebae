"""Every CloudFormation stack status is classified, and the root cause is the first real failure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import botocore.session
import pytest

from functions.stacks.logic import status as cfn


def _cloudformation_statuses() -> list[str]:
    model = botocore.session.get_session().get_service_model("cloudformation")
    return list(model.shape_for("StackStatus").enum)


def test_every_status_cloudformation_knows_is_classified() -> None:
    known = _cloudformation_statuses()
    assert len(known) >= 23
    assert set(known) <= set(cfn.STATUSES), set(known) - set(cfn.STATUSES)


@pytest.mark.parametrize("status", _cloudformation_statuses())
def test_a_settled_status_says_what_the_stack_is_now(status: str) -> None:
    verdict = cfn.classify(status)
    assert (verdict.outcome is cfn.Outcome.RUNNING) == status.endswith("_IN_PROGRESS")
    assert (verdict.health is None) == (verdict.outcome is cfn.Outcome.RUNNING)
    if status.endswith("ROLLBACK_FAILED") or status in ("DELETE_FAILED", "CREATE_FAILED", "UPDATE_FAILED"):
        assert verdict.needs_attention and verdict.health is cfn.Health.FAILED


def test_an_unknown_status_is_an_error_not_a_guess() -> None:
    with pytest.raises(cfn.UnknownStatus):
        cfn.classify("SOMETHING_NEW")


def test_the_root_cause_is_the_oldest_failure_that_is_not_a_cancellation() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def event(seconds: int, logical: str, status: str, reason: str = "") -> dict[str, object]:
        return {
            "Timestamp": t0 + timedelta(seconds=seconds),
            "LogicalResourceId": logical,
            "StackName": "stackpilot-shop-dev",
            "ResourceType": "AWS::RDS::DBInstance" if logical == "Database" else "AWS::ECS::Service",
            "ResourceStatus": status,
            "ResourceStatusReason": reason,
        }

    newest_first = [
        event(9, "stackpilot-shop-dev", "ROLLBACK_COMPLETE"),
        event(7, "Service", "CREATE_FAILED", "Resource creation cancelled"),
        event(5, "Database", "CREATE_FAILED", "DB instance class db.x9.huge is not supported"),
        event(3, "Database", "CREATE_IN_PROGRESS"),
    ]
    cause = cfn.root_cause(newest_first)
    assert cause == cfn.RootCause(
        "Database", "AWS::RDS::DBInstance", "DB instance class db.x9.huge is not supported"
    )
    assert cfn.root_cause(newest_first, operation_started_at=t0 + timedelta(seconds=6)) == cfn.RootCause(
        "Service", "AWS::ECS::Service", "Resource creation cancelled"
    )
    assert cfn.root_cause(newest_first[:1]) is None
