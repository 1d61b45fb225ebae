"""SNS -> Lambda delivery (infra/local/patches/sns.py)."""

from __future__ import annotations

from tests.fixtures import patch_handlers as handlers
from tests.infrastructure.local_cloud.support import (
    client,
    create_function,
    wait_until,
)


def test_sns_subscription_invokes_lambda_with_real_topic(aws: None) -> None:
    function_arn = create_function("record", "record")
    sns = client("sns")
    topic_arn = sns.create_topic(Name="notifications")["TopicArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="lambda", Endpoint=function_arn)

    message_id = sns.publish(TopicArn=topic_arn, Message="hi", Subject="greeting")["MessageId"]

    wait_until(lambda: handlers.RECEIVED, what="SNS delivery")
    notification = handlers.RECEIVED[0]["event"]["Records"][0]["Sns"]
    assert notification["TopicArn"] == topic_arn
    assert notification["MessageId"] == message_id
    assert notification["Message"] == "hi"
    assert notification["Subject"] == "greeting"
