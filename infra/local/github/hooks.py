"""Webhook signing and delivery as GitHub's Hookshot does it: the raw JSON bytes, HMAC-SHA256 (and
the legacy SHA-1) under the webhook secret, the delivery headers, and a record of every attempt."""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any

USER_AGENT = "GitHub-Hookshot/local"
TIMEOUT_SECONDS = 10.0  # GitHub counts a delivery failed when no answer comes within 10 s
MAX_ANSWER_BYTES = 64 * 1024


def signature_256(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_sha1(secret: str, body: bytes) -> str:
    return "sha1=" + hmac.new(secret.encode(), body, hashlib.sha1).hexdigest()


def headers(*, secret: str, body: bytes, event: str, guid: str, hook_id: int, app_id: int) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": guid,
        "X-GitHub-Hook-ID": str(hook_id),
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-GitHub-Hook-Installation-Target-ID": str(app_id),
        "X-Hub-Signature": signature_sha1(secret, body),
        "X-Hub-Signature-256": signature_256(secret, body),
    }


def new_guid() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Attempt:
    status_code: int  # 0 when no HTTP answer came (connection refused, timeout)
    status: str
    answer: str
    answer_headers: dict[str, str]
    duration: float


def post(url: str | None, body: bytes, request_headers: dict[str, str], *, target_down: bool) -> Attempt:
    """One delivery attempt; never raises (a failure is recorded, as GitHub records it)."""
    started = time.monotonic()
    if url is None:
        return Attempt(0, "No webhook URL configured", "", {}, 0.0)
    if target_down:
        return Attempt(0, "failed to connect", "", {}, time.monotonic() - started)
    if not url.startswith(("http://", "https://")):
        return Attempt(0, "invalid webhook URL", "", {}, 0.0)
    request = urllib.request.Request(url, data=body, headers=request_headers, method="POST")  # noqa: S310 (http only)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310 (configured URL)
            code, text, got = answer.status, answer.read(MAX_ANSWER_BYTES), dict(answer.headers.items())
    except urllib.error.HTTPError as error:
        code, text, got = error.code, error.read(MAX_ANSWER_BYTES), dict(error.headers.items())
    except TimeoutError:
        return Attempt(0, "timed out", "", {}, time.monotonic() - started)
    except OSError:
        return Attempt(0, "failed to connect", "", {}, time.monotonic() - started)
    status = "OK" if 200 <= code < 300 else f"Invalid HTTP Response: {code}"
    return Attempt(code, status, text.decode("utf-8", "replace"), got, time.monotonic() - started)


def summary(delivery: dict[str, Any]) -> dict[str, Any]:
    """An item of ``GET /app/hook/deliveries``."""
    keys = (
        "id",
        "guid",
        "delivered_at",
        "redelivery",
        "duration",
        "status",
        "status_code",
        "event",
        "action",
        "installation_id",
        "repository_id",
    )
    item = {key: delivery[key] for key in keys}
    item["throttled_at"] = None
    return item
