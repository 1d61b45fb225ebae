"""RDS instances from CloudFormation: deletion protection, DeletionPolicy Snapshot (resources/rds.py)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.infrastructure.local_cloud.support import (
    client,
    create_via_change_set,
    physical_ids,
    stack_events,
    update_via_change_set,
    wait_stack,
)


def test_deletion_protection_refuses_and_a_snapshot_policy_keeps_a_snapshot(customer: dict[str, str]) -> None:
    def template(protected: bool) -> dict[str, Any]:
        database = {
            "Type": "AWS::RDS::DBInstance",
            "DeletionPolicy": "Snapshot",
            "Properties": {
                "Engine": "postgres",
                "DBInstanceClass": "db.t4g.micro",
                "AllocatedStorage": "20",
                "MasterUsername": "app",
                "MasterUserPassword": "correct-horse-battery",
                "DeletionProtection": protected,
            },
        }
        return {"Resources": {"Database": database}}

    cfn = client("cloudformation", customer)
    rds = client("rds", customer)
    stack_id = create_via_change_set(cfn, "stackpilot-db", template(True))["StackId"]
    database_id = physical_ids(cfn, stack_id)["Database"]
    kept = create_via_change_set(cfn, "stackpilot-kept", template(True))["StackId"]
    kept_id = physical_ids(cfn, kept)["Database"]

    cfn.delete_stack(StackName=stack_id)
    refused = wait_stack(cfn, stack_id)
    with pytest.raises(ClientError, match="DELETE_FAILED state and can not be updated"):
        update_via_change_set(cfn, stack_id, template(False))
    rds.modify_db_instance(DBInstanceIdentifier=database_id, DeletionProtection=False, ApplyImmediately=True)
    cfn.delete_stack(StackName=stack_id)
    cfn.delete_stack(StackName=kept)
    wait_stack(cfn, kept)
    cfn.delete_stack(StackName=kept, RetainResources=["Database"])

    assert refused["StackStatus"] == "DELETE_FAILED"
    assert refused["StackStatusReason"] == "The following resource(s) failed to delete: [Database]. "
    _, _, reason = next(e for e in stack_events(cfn, stack_id, "Database") if e[1] == "DELETE_FAILED")
    assert "deletion protection" in str(reason).lower()
    assert wait_stack(cfn, stack_id)["StackStatus"] == "DELETE_COMPLETE"
    assert wait_stack(cfn, kept)["StackStatus"] == "DELETE_COMPLETE"
    assert stack_events(cfn, kept, "Database")[-1][1] == "DELETE_SKIPPED"
    assert [d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]] == [kept_id]
    snapshots = rds.describe_db_snapshots(SnapshotType="manual")["DBSnapshots"]
    assert [s["DBInstanceIdentifier"] for s in snapshots] == [database_id]
