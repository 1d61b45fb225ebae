"""The optional EventBridge rule forwarding our stacks' status changes to the stackpilot bus, and the
role it uses.
"""

from __future__ import annotations

from typing import Final

from troposphere import AccountId, Equals, GetAtt, Ref, Sub, Template, events, iam

from functions.accounts.logic.role_template.context import Names, RoleTemplateInput, tags
from functions.shared.logic.customer_names import (
    CONTROL_PATH,
    _events_role_name,
    _status_rule_name,
    connection_suffix,
)
from functions.shared.logic.iam import ARN, HERE, policy_document, statement

_CFN_STATUS_DETAIL_TYPE: Final = "CloudFormation Stack Status Change"
_BUILD_STATE_DETAIL_TYPE: Final = "CodeBuild Build State Change"


def _build_rule_name(connection_id: str) -> str:
    return f"stackpilot-builds-{connection_suffix(connection_id)}"


def add_status_forwarding(t: Template, inp: RoleTemplateInput, names: Names) -> None:
    cond = "StatusForwardingEnabled"
    t.add_condition(cond, Equals(Ref("EnableStatusForwarding"), "true"))
    rule_name = _status_rule_name(inp.connection_id)
    build_rule_name = _build_rule_name(inp.connection_id)
    t.add_resource(
        iam.Role(
            "StatusForwardingRole",
            Condition=cond,
            RoleName=_events_role_name(inp.connection_id),
            Path=CONTROL_PATH,
            Description="stackpilot: lets EventBridge forward stackpilot stack and build events",
            AssumeRolePolicyDocument=policy_document(
                {
                    "Sid": "OnlyTheForwardingRule",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    # Only our rules in this account may use the role (confused-deputy guard).
                    "Condition": {
                        "StringEquals": {
                            "aws:SourceAccount": AccountId,
                            "aws:SourceArn": [
                                Sub(f"{ARN}:events:{HERE}:rule/{name}")
                                for name in (rule_name, build_rule_name)
                            ],
                        }
                    },
                }
            ),
            Policies=[
                iam.Policy(
                    PolicyName="stackpilot-forward-status",
                    # PutEvents on our bus only: the role cannot write anywhere else.
                    PolicyDocument=policy_document(
                        statement("PutOnStackpilotBus", ["events:PutEvents"], [inp.event_bus_arn])
                    ),
                )
            ],
            Tags=tags(),
        )
    )
    t.add_resource(
        events.Rule(
            "StatusForwardingRule",
            Condition=cond,
            Name=rule_name,
            Description="Forwards status changes of stackpilot stacks to stackpilot",
            State="ENABLED",
            # Only our stacks' events leave the account: the stack ARN must start with our prefix.
            EventPattern={
                "source": ["aws.cloudformation"],
                "detail-type": [_CFN_STATUS_DETAIL_TYPE],
                "detail": {
                    "stack-id": [{"prefix": Sub(f"{ARN}:cloudformation:{HERE}:stack/{names.prefix}")}],
                },
            },
            Targets=[
                events.Target(
                    Id="stackpilot-bus",
                    Arn=inp.event_bus_arn,
                    RoleArn=GetAtt("StatusForwardingRole", "Arn"),
                    # Stale status is worthless (the reconcile sweep catches what is dropped), so
                    # retry for an hour instead of the default 24 h.
                    RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=3600, MaximumRetryAttempts=20),
                )
            ],
        )
    )
    # Since template version 3: our builds' state changes (releases wait on them; polling
    # BatchGetBuilds is the fallback). Only builds of projects named with our prefix leave the account.
    t.add_resource(
        events.Rule(
            "BuildForwardingRule",
            Condition=cond,
            Name=build_rule_name,
            Description="Forwards state changes of stackpilot builds to stackpilot",
            State="ENABLED",
            EventPattern={
                "source": ["aws.codebuild"],
                "detail-type": [_BUILD_STATE_DETAIL_TYPE],
                "detail": {"project-name": [{"prefix": names.prefix}]},
            },
            Targets=[
                events.Target(
                    Id="stackpilot-bus",
                    Arn=inp.event_bus_arn,
                    RoleArn=GetAtt("StatusForwardingRole", "Arn"),
                    RetryPolicy=events.RetryPolicy(MaximumEventAgeInSeconds=3600, MaximumRetryAttempts=20),
                )
            ],
        )
    )
