"""``POST /webhooks/github`` (no authorizer): GitHub App deliveries, through API Gateway's proxy
integration. Its answers are GitHub's contract rather than the REST API's, so they are mapped here:
401 for a signature refused, 413 for a body too large, 400 for an authentic but malformed delivery,
503 when nothing can be verified or started (GitHub's delivery log shows it; the reconciler
redelivers it), and 2xx for everything authentic, saying what happened."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions import startup
from functions.releases.exceptions import (
    DeliveryTooLarge,
    MalformedDelivery,
    SignatureRefused,
    WebhookSecretMissing,
)
from functions.releases.handlers import composition
from functions.releases.logic.receiving import Delivery, receive
from functions.shared.clock import now
from functions.shared.errors import DependencyDown
from functions.shared.observability import logger

log = logger("releases")
DEPS = composition.receive_deps()


@log.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    log.append_keys(delivery=headers.get("x-github-delivery"), github_event=headers.get("x-github-event"))
    try:
        delivery = Delivery(
            event=headers.get("x-github-event"),
            delivery_id=headers.get("x-github-delivery"),
            signature=headers.get("x-hub-signature-256"),
            body=_body(event),
        )
        receipt = receive(DEPS, delivery, now())
    except SignatureRefused as refused:
        log.warning("delivery refused", extra={"reason": str(refused)})
        return _answer(401, str(refused))
    except DeliveryTooLarge as refused:
        return _answer(413, str(refused))
    except MalformedDelivery as refused:
        return _answer(400, str(refused))
    except WebhookSecretMissing as down:
        log.error("the GitHub App's webhook secret has no value: fill it (README, Deploying to AWS)")
        return _answer(503, str(down))
    except DependencyDown as down:
        log.error("delivery not taken", extra={"reason": str(down), "detail": down.detail})
        return _answer(503, str(down))
    log.info("delivery received", extra={"status": receipt.status, "outcome": receipt.message})
    return _answer(receipt.status, receipt.message)


def _body(event: dict[str, Any]) -> bytes:
    """The raw bytes GitHub signed (API Gateway hands binary media types over base64-encoded)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedDelivery("the body is not valid base64") from exc
    return body.encode("utf-8")


def _answer(status: int, message: str) -> dict[str, Any]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps({"message": message}),
    }


startup.ready()  # INIT ends here
