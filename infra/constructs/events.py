"""The custom event bus (stackpilot's public contract), its archive, and rule targets with a DLQ."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.dead_letters import dead_letter_queue
from infra.definitions import BusRuleDef, Names, ScheduleDef

ARCHIVE_RETENTION = Duration.days(365)
TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = Duration.hours(24)


class Events(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, names: Names, encryption_key: kms.IKey
    ) -> None:
        super().__init__(scope, construct_id)
        self._key = encryption_key
        self._rule_dead_letters: sqs.Queue | None = None
        self.bus = events.EventBus(self, "Bus", event_bus_name=names.event_bus)
        # Customers' role stacks may forward their CloudFormation status changes here (the optional
        # rule of the onboarding template). Customer accounts are not known at deploy time, so any
        # account may put, but only CloudFormation's own status events; consumers check the account.
        self.bus.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CustomerStackStatusForwarding",
                principals=[iam.AnyPrincipal()],
                actions=["events:PutEvents"],
                resources=[self.bus.event_bus_arn],
                conditions={
                    "StringEquals": {
                        "events:source": "aws.cloudformation",
                        "events:detail-type": "CloudFormation Stack Status Change",
                    }
                },
            )
        )
        # Every event we emit, kept a year: subscribers that missed some can have them replayed.
        self.archive = self.bus.archive(
            "Archive",
            archive_name=f"{names.prefix}-events",
            description="Every event published on the stackpilot bus, for replay",
            event_pattern=events.EventPattern(account=[cdk.Stack.of(self).account]),
            retention=ARCHIVE_RETENTION,
        )

    def schedule(self, definition: ScheduleDef, target: events.IRuleTarget, names: Names) -> events.Rule:
        """A default-bus rule on a schedule; its target (``lambda_target`` or ``state_machine_target``)
        retries, then dead-letters."""
        return events.Rule(
            self,
            definition.construct_id,
            rule_name=f"{names.prefix}-{definition.key}",
            description=definition.description,
            schedule=events.Schedule.expression(definition.expression),
            targets=[target],
        )

    def bus_rule(self, definition: BusRuleDef, function: lambda_.IFunction, names: Names) -> events.Rule:
        """Events on stackpilot's bus matching ``definition.pattern``, delivered to a function."""
        pattern = definition.pattern
        return events.Rule(
            self,
            definition.construct_id,
            rule_name=f"{names.prefix}-{definition.key}",
            description=definition.description,
            event_bus=self.bus,
            event_pattern=events.EventPattern(
                source=pattern.get("source"), detail_type=pattern.get("detail-type")
            ),
            targets=[self.lambda_target(function)],
        )

    def lambda_target(self, function: lambda_.IFunction) -> targets.LambdaFunction:
        """A rule target that retries, then dead-letters (every asynchronous edge has both)."""
        return targets.LambdaFunction(
            function,
            dead_letter_queue=self._dead_letters(),
            retry_attempts=TARGET_RETRY_ATTEMPTS,
            max_event_age=TARGET_MAX_EVENT_AGE,
        )

    def state_machine_target(self, machine: sfn.IStateMachine) -> targets.SfnStateMachine:
        """A rule target that starts an execution (through a role CDK makes, allowed StartExecution on
        this machine only), retries, then dead-letters."""
        return targets.SfnStateMachine(
            machine,
            dead_letter_queue=self._dead_letters(),
            retry_attempts=TARGET_RETRY_ATTEMPTS,
            max_event_age=TARGET_MAX_EVENT_AGE,
        )

    def _dead_letters(self) -> sqs.Queue:
        if self._rule_dead_letters is None:
            self._rule_dead_letters = dead_letter_queue(
                self,
                "RuleTargetDeadLetterQueue",
                key=self._key,
                holds="the bus's rule targets",
                nag_rules=("Serverless-SQSRedrivePolicy", "AwsSolutions-SQS3"),
            )
        return self._rule_dead_letters
