"""SNS -> Lambda: asynchronous delivery with the real topic ARN and message id (moto's own path would
call the function synchronously, outside the in-process runtime's retries)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any

from infra.local.patches._machinery import _call_original, _replace
from infra.local.patches.lambda_runtime import _lambda_function, invoke_async

LOG = logging.getLogger(__name__)


def _iso_now() -> str:
    return dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _sns_message_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    converted = {}
    for name, attribute in (attributes or {}).items():
        value = attribute.get("StringValue", attribute.get("BinaryValue"))
        converted[name] = {"Type": attribute.get("DataType", "String"), "Value": value}
    return converted


def _sns_lambda_event(
    subscription: Any, message: str, message_id: str, subject: str | None, attributes: Any
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": _iso_now(),
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "EXAMPLE",
                    "MessageId": message_id,
                    "Message": message,
                    "MessageAttributes": _sns_message_attributes(attributes),
                    "Type": "Notification",
                    "UnsubscribeUrl": "EXAMPLE",
                    "TopicArn": subscription.topic.arn,
                    "Subject": subject,
                },
            }
        ]
    }


def _subscription_publish(
    self: Any,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    """SNS -> Lambda like AWS: asynchronous, with the real topic ARN and message id."""
    if self.protocol != "lambda":
        _call_original(
            type(self),
            "publish",
            self,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    event = _sns_lambda_event(self, message, message_id, subject, message_attributes)
    try:
        function = _lambda_function(self.endpoint)
    except Exception:
        # AWS accepts the publish and fails the delivery; it does not fail the Publish call.
        LOG.warning("SNS could not deliver to %s", self.endpoint, exc_info=True)
        return
    invoke_async(function, event)


def patch() -> None:
    from moto.sns.models import Subscription

    _replace(Subscription, "publish", _subscription_publish, "sns -> lambda delivery")
