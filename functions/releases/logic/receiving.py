"""Receiving a GitHub delivery (``POST /webhooks/github``): verify, route, start one release.

The order is the security model's: the size, then the signature over the raw bytes, and only then is
the body parsed. The org comes from the installation's link alone, never from the payload. Every
authentic delivery is answered 2xx, including those ignored (GitHub keeps the answer in its delivery
log, so it says what was ignored and why); GitHub never retries by itself.

A push to a tracked branch starts one release execution named by its delivery id (which fans out to
the stacks tracking that repository and branch), then claims the delivery id (the dedupe, a
conditional write with a TTL past GitHub's redelivery window). So the ack makes two DynamoDB calls
(the route, the claim) and one StartExecution, and a replay starts nothing: Step Functions keeps one
execution per name.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from pydantic import ValidationError

from functions.releases.exceptions import DeliveryTooLarge, MalformedDelivery
from functions.releases.logic import signatures
from functions.releases.logic.ports import AppSecret, DeliveryLog, ReleaseWorkflow, RouteDirectory
from functions.releases.models.routing import LinkStatus
from functions.releases.models.webhooks import PushEvent
from functions.releases.models.workflow import ReleaseRequest

MAX_BODY_BYTES: Final = 25 * 1024 * 1024  # GitHub never sends more
# A delivery id names the release execution: Step Functions allows 1-80 of [A-Za-z0-9_-]. GitHub's
# are GUIDs (36 characters).
_DELIVERY_ID: Final = re.compile(r"[A-Za-z0-9-]{1,80}")
_EVENT: Final = re.compile(r"[a-z_]{1,64}")


@dataclass(frozen=True)
class Delivery:
    """A request as it arrived: the headers that matter (None when absent) and the raw body."""

    event: str | None
    delivery_id: str | None
    signature: str | None
    body: bytes


@dataclass(frozen=True)
class Receipt:
    """The answer: ``started`` is the release execution's ARN when one was started."""

    status: int
    message: str
    started: str | None = None


@dataclass(frozen=True)
class ReceiveDeps:
    webhook_secret: AppSecret  # empty: not configured, so nothing is accepted
    routes: RouteDirectory
    deliveries: DeliveryLog
    workflow: ReleaseWorkflow


def receive(deps: ReceiveDeps, delivery: Delivery, received_at: datetime) -> Receipt:
    """Raises ``SignatureRefused`` (401), ``DeliveryTooLarge`` (413), ``MalformedDelivery`` (400),
    ``WebhookSecretMissing``/``ServiceUnavailable`` (503); anything authentic is answered 2xx."""
    if len(delivery.body) > MAX_BODY_BYTES:
        raise DeliveryTooLarge(f"a delivery is at most {MAX_BODY_BYTES} bytes")
    signatures.verify(deps.webhook_secret.value(), delivery.body, delivery.signature)
    event = delivery.event or ""
    if not _EVENT.fullmatch(event):
        raise MalformedDelivery("the X-GitHub-Event header is missing or not an event name")
    if delivery.delivery_id is None or not _DELIVERY_ID.fullmatch(delivery.delivery_id):
        raise MalformedDelivery("the X-GitHub-Delivery header is missing or not a delivery id")
    payload = _json(delivery.body)
    if event == "ping":
        return Receipt(200, "pong")
    if event != "push":
        return Receipt(200, f"ignored: the {event} event starts nothing here")
    return _push(deps, delivery.delivery_id, _parse_push(payload), received_at)


def _push(deps: ReceiveDeps, delivery_id: str, push: PushEvent, received_at: datetime) -> Receipt:
    if push.branch is None:
        return Receipt(200, f"ignored: {push.ref} is not a branch")
    if push.removed_branch:
        return Receipt(200, f"ignored: branch {push.branch} was deleted")
    if push.installation is None:
        return Receipt(200, "ignored: the push came through no installation of the App")
    installation, where = push.installation.id, f"{push.repository.full_name}@{push.branch}"
    route = deps.routes.route(installation, push.repository.id, push.branch)
    if route.link is None:
        return Receipt(200, f"ignored: installation {installation} is not linked to an org")
    if route.link.status is not LinkStatus.ACTIVE:
        state = "suspended" if route.link.status is LinkStatus.SUSPENDED else "deleted"
        return Receipt(200, f"refused: installation {installation} is {state}; nothing is released")
    if not route.stack_ids:
        return Receipt(200, f"ignored: no stack tracks {where}")
    head = push.head_commit
    request = ReleaseRequest(
        org_id=route.link.org_id,
        delivery_id=delivery_id,
        installation_id=installation,
        repository=push.repository.full_name,
        repository_id=push.repository.id,
        branch=push.branch,
        commit=push.after,
        message=head.message[:1000] if head else "",
        author=(head.author.username or head.author.name)[:255] if head else "",
        sender=push.sender.login,
        stack_ids=route.stack_ids,
    )
    # Started first, claimed second: starting is idempotent by name (a replay's start is a no-op), so
    # a start that fails leaves no claim behind and GitHub's redelivery of it is taken, not ignored.
    arn = deps.workflow.start(delivery_id, request.model_dump(mode="json"))
    if not deps.deliveries.claim(delivery_id, "push", received_at):
        return Receipt(200, f"already received: delivery {delivery_id} changed nothing")
    return Receipt(202, f"release started for {len(route.stack_ids)} stack(s) tracking {where}", arn)


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedDelivery("the body is not JSON") from exc


def _parse_push(payload: Any) -> PushEvent:
    try:
        return PushEvent.model_validate(payload)
    except ValidationError as exc:
        where = ".".join(str(part) for part in exc.errors()[0]["loc"]) or "body"
        raise MalformedDelivery(f"the push event has no valid {where}") from exc
