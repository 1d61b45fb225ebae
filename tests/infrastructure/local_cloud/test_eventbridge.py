"""EventBridge targets (infra/local/patches/eventbridge.py)."""

from __future__ import annotations

import json

from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.local_cloud.support import (
    SERVICE,
    client,
    create_function,
    create_state_machine,
    wait_execution,
    wait_until,
)


def test_eventbridge_delivers_to_lambda_and_state_machine(aws: None) -> None:
    function_arn = create_function("record", "record")
    disabled_arn = create_function("never", "record")
    detail_arn = create_function("detail-only", "record")
    constant_arn = create_function("constant", "record")
    sqs = client("sqs")
    tap_url = sqs.create_queue(QueueName="tap")["QueueUrl"]
    tap_arn = sqs.get_queue_attributes(QueueUrl=tap_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    machine = create_state_machine(
        "on-event", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    )
    events = client("events")
    pattern = json.dumps({"source": ["stackpilot.test"]})
    events.put_rule(Name="enabled", EventPattern=pattern)
    events.put_targets(
        Rule="enabled",
        Targets=[
            {"Id": "fn", "Arn": function_arn},
            {"Id": "sfn", "Arn": machine, "RoleArn": machine},
            {"Id": "path", "Arn": detail_arn, "InputPath": "$.detail"},
            {"Id": "constant", "Arn": constant_arn, "Input": '{"fixed": true}'},
            {"Id": "tap", "Arn": tap_arn},
        ],
    )
    events.put_rule(Name="disabled", EventPattern=pattern, State="DISABLED")
    events.put_targets(Rule="disabled", Targets=[{"Id": "fn", "Arn": disabled_arn}])
    # An enabled rule to the same function: the sentinel that shows when a delivery would have arrived.
    events.put_rule(Name="sentinel", EventPattern=json.dumps({"source": ["stackpilot.sentinel"]}))
    events.put_targets(Rule="sentinel", Targets=[{"Id": "fn", "Arn": disabled_arn}])

    events.put_events(
        Entries=[{"Source": "stackpilot.test", "DetailType": "Thing Happened", "Detail": '{"n": 1}'}]
    )

    wait_until(lambda: len(handlers.RECEIVED) >= 3, what="EventBridge -> Lambda")
    received = {r["function"]: r["event"] for r in handlers.RECEIVED}
    delivered = received["record"]
    assert list(delivered) == [
        "version",
        "id",
        "detail-type",
        "source",
        "account",
        "time",
        "region",
        "resources",
        "detail",
    ]
    assert delivered["account"] == SERVICE
    assert delivered["detail"] == {"n": 1}
    assert delivered["time"].endswith("Z")
    sfn = client("stepfunctions")
    executions = wait_until(lambda: sfn.list_executions(stateMachineArn=machine)["executions"], what="SFN")
    described = wait_execution(executions[0]["executionArn"])
    assert json.loads(described["input"])["id"] == delivered["id"]
    tapped = json.loads(sqs.receive_message(QueueUrl=tap_url)["Messages"][0]["Body"])
    assert tapped == delivered
    assert received["detail-only"] == {"n": 1}
    assert received["constant"] == {"fixed": True}
    events.put_events(Entries=[{"Source": "stackpilot.sentinel", "DetailType": "Sentinel", "Detail": "{}"}])
    wait_until(lambda: [r for r in handlers.RECEIVED if r["function"] == "never"], what="the sentinel")
    never = [r["event"]["source"] for r in handlers.RECEIVED if r["function"] == "never"]
    assert never == ["stackpilot.sentinel"], "disabled rule delivered"
