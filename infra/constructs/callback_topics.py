"""``CallbackTopicStack``: one per supported region, holding that region's callback topic.

A CloudFormation custom resource's ServiceToken must be in the customer stack's own region, so each
supported region has a topic named ``Names.callback_topic``; all of them deliver to the one
subscriber function in the home region (SNS invokes Lambda across regions). The invoke permission
lives with the function (``infra/constructs/accounts.py``); ARNs are built from ``Names``, so no
cross-region references are needed.

Publishing is open to any AWS principal, on this topic only: the publisher is a customer's
CloudFormation, from accounts we do not know in advance, and the subscriber treats every message as
unauthenticated (connection, nonce, account ids are all checked).

Encryption: SSE with a customer-managed key of this region. The AWS-managed ``aws/sns`` key would
refuse every publisher outside this account (its policy cannot be changed), which is every
publisher. This key's policy lets any principal use it only through SNS in this region and only
for this topic (``kms:ViaService`` + the ``aws:sns:topicArn`` encryption context). As with any
cross-account KMS use, the publisher's own IAM policy must allow kms:GenerateDataKey*/kms:Decrypt:
the administrators who launch onboarding stacks (they create IAM roles) have that; a stack launched
with a narrowly scoped CloudFormation service role would need it added.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from infra.constructs import nag
from infra.constructs.dead_letters import dead_letter_queue
from infra.definitions import Names, TopicDef


def topic_name(names: Names, topic: TopicDef) -> str:
    return f"{names.prefix}-{topic.key}"


def topic_arn(names: Names, topic: TopicDef, region: str) -> str:
    # Literal partition, as definitions.Names builds every ARN.
    return f"arn:aws:sns:{region}:{names.account}:{topic_name(names, topic)}"


class CallbackTopicStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        topic: TopicDef,
        stage: str,
        region: str,
        home_region: str,
        account: str | None = None,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=f"stackpilot-{stage}-{topic.key}-{region}",
            description=f"stackpilot {stage}: {topic.key} topic for customers' CloudFormation in {region}",
            env=cdk.Environment(account=account, region=region),
        )
        names = Names(stage, self.account, region)
        arn = topic_arn(names, topic, region)
        subscriber_arn = cdk.Fn.sub(
            f"arn:aws:lambda:{home_region}:${{AWS::AccountId}}:function:{names.function(topic.subscriber)}"
        )

        key = kms.Key(
            self,
            "Key",
            description=f"{topic_name(names, topic)}: SSE of the callback topic in {region}",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,  # goes with the topic and the DLQ it encrypts
        )
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AnyPublisherThroughThisTopicOnly",
                principals=[iam.AnyPrincipal()],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={
                    "StringEquals": {
                        "kms:ViaService": f"sns.{region}.amazonaws.com",
                        "kms:EncryptionContext:aws:sns:topicArn": arn,
                    }
                },
            )
        )
        # SNS itself encrypts what it dead-letters into the (same-key) subscription DLQ.
        key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="SnsDeadLettersWithThisTopicOnly",
                principals=[iam.ServicePrincipal("sns.amazonaws.com")],
                actions=["kms:GenerateDataKey*", "kms:Decrypt"],
                resources=["*"],
                conditions={"ArnEquals": {"aws:SourceArn": arn}},
            )
        )
        nag.checkov_skip(
            key,
            "CKV_AWS_33",
            "Customers' CloudFormation publishes from accounts unknown at deploy time; the wildcard "
            "principal may use the key only via SNS in this region for this one topic.",
        )

        self.topic = sns.Topic(
            self,
            "Topic",
            topic_name=topic_name(names, topic),
            display_name="stackpilot connection callbacks",
            master_key=key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AnyAccountPublishesCallbacks",
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
            )
        )

        self.dead_letter_queue = dead_letter_queue(
            self,
            "SubscriptionDeadLetterQueue",
            key=key,
            holds="the callback subscription (callbacks SNS could not deliver)",
            nag_rules=("AwsSolutions-SQS3", "Serverless-SQSRedrivePolicy"),
        )

        self.subscription = sns.Subscription(
            self,
            "Subscription",
            topic=self.topic,
            protocol=sns.SubscriptionProtocol.LAMBDA,
            endpoint=subscriber_arn,
            dead_letter_queue=self.dead_letter_queue,
        )
