"""Delivering answers to CloudFormation custom-resource ResponseURLs.

The URL came from an unauthenticated message, so it is checked against the allowlist before any
byte leaves, redirects are never followed, and the URL never reaches a log or an exception text.
"""

from __future__ import annotations

import json
import socket
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import unquote, urlsplit

from functions.accounts.exceptions import ResponseDeliveryFailed
from functions.accounts.logic.response_url import MAX_RESPONSE_BODY_BYTES, check_response_url


def encode_body(body: dict[str, Any]) -> bytes:
    data = json.dumps(body, separators=(",", ":")).encode()
    if len(data) > MAX_RESPONSE_BODY_BYTES:
        # CloudFormation refuses bodies over 4 KB: keep the ids, shorten the reason.
        overflow = len(data) - MAX_RESPONSE_BODY_BYTES
        body = {
            **body,
            "Data": {},
            "Reason": str(body.get("Reason", ""))[: max(0, 200 - overflow)] or "see stackpilot",
        }
        data = json.dumps(body, separators=(",", ":")).encode()
    return data


def resolve_host(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)})
    except OSError as exc:
        raise ResponseDeliveryFailed(f"could not resolve {host}") from exc


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx becomes an HTTPError instead of a second request somewhere else


_OPENER = urllib.request.build_opener(_NoRedirects)


class HttpsResponder:
    """The production transport: an HTTPS PUT to the presigned S3 URL."""

    def send(self, response_url: str, region: str, body: dict[str, Any]) -> None:
        url = check_response_url(response_url, region=region, resolve=resolve_host)
        request = urllib.request.Request(  # noqa: S310 - scheme is https, checked above
            url, data=encode_body(body), method="PUT", headers={"Content-Type": ""}
        )
        try:
            with _OPENER.open(request, timeout=10) as reply:
                status = reply.status
        except urllib.error.HTTPError as exc:
            status = exc.code
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise ResponseDeliveryFailed(f"could not reach {urlsplit(url).hostname}") from exc
        if not 200 <= status < 300:
            raise ResponseDeliveryFailed(f"the response endpoint answered HTTP {status}")


class EmulatorResponder:
    """The local cloud's transport: the same checks, then the object goes to the emulator's S3,
    where the emulated CloudFormation reads it, as AWS reads the real presigned PUT."""

    def __init__(self, s3: Any) -> None:
        self._s3 = s3

    def send(self, response_url: str, region: str, body: dict[str, Any]) -> None:
        url = check_response_url(response_url, region=region, resolve=None)
        parts = urlsplit(url)
        bucket = (parts.hostname or "").split(".")[0]
        self._s3.put_object(Bucket=bucket, Key=unquote(parts.path.lstrip("/")), Body=encode_body(body))


def responder(endpoint_override: str | None, s3: Any) -> HttpsResponder | EmulatorResponder:
    """The emulator transport only when the local cloud asks for it; HTTPS everywhere else."""
    return EmulatorResponder(s3) if endpoint_override == "emulator-s3" else HttpsResponder()
