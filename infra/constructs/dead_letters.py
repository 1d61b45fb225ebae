"""The one way stackpilot builds a dead-letter queue: encrypted, TLS-only, kept two weeks."""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs import nag

RETENTION = Duration.days(14)


def dead_letter_queue(
    scope: Construct,
    construct_id: str,
    *,
    key: kms.IKey,
    holds: str,
    nag_rules: Iterable[str] = ("Serverless-SQSRedrivePolicy",),
) -> sqs.Queue:
    """``holds`` says whose failures land here (it becomes the acknowledgment's reason).

    cdk-nag cannot see every dead-letter use (an SNS redrive or an EventBridge target's DLQ is not an
    SQS redrive), so callers name the rules that flag this queue for being what it is.
    """
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=RETENTION,
    )
    reason = (
        f"This queue is itself the dead-letter queue of {holds}: messages wait here for an operator "
        "to inspect and redrive them, there is nothing further to dead-letter to."
    )
    for rule in nag_rules:
        nag.acknowledge(queue, rule, reason)
    return queue
