"""Delivering answers to CloudFormation custom-resource ResponseURLs.

The URL came from an unauthenticated message, so it is checked against the allowlist before any
byte leaves, redirects are never followed, and the URL never reaches a log or an exception text.
"""

from __future__ import annotations

import http.client
import json
import socket
import ssl
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlsplit

from functions.accounts.exceptions import ResponseDeliveryFailed
from functions.accounts.logic.response_url import MAX_RESPONSE_BODY_BYTES, check_response_url


def encode_body(body: dict[str, Any]) -> bytes:
    """The JSON answer, kept within CloudFormation's 4 KB: Data goes first, then the Reason shrinks."""
    data = json.dumps(body, separators=(",", ":")).encode()
    if len(data) <= MAX_RESPONSE_BODY_BYTES:
        return data
    body = {**body, "Data": {}}
    reason = str(body.get("Reason", ""))
    while True:
        data = json.dumps({**body, "Reason": reason}, separators=(",", ":")).encode()
        if len(data) <= MAX_RESPONSE_BODY_BYTES or not reason:
            return data
        reason = reason[: max(0, len(reason) - (len(data) - MAX_RESPONSE_BODY_BYTES) - 16)]


def resolve_host(host: str) -> list[str]:
    try:
        return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, 443, type=socket.SOCK_STREAM)})
    except OSError as exc:
        raise ResponseDeliveryFailed(f"could not resolve {host}") from exc


def _pinned_connection(host: str, address: str, timeout: float) -> http.client.HTTPSConnection:
    """HTTPS to the address that passed the checks (no second DNS answer can swap it), with the
    certificate verified for ``host``. http.client never follows redirects."""
    connection = http.client.HTTPSConnection(host, 443, timeout=timeout, context=ssl.create_default_context())

    def connect() -> None:
        raw = socket.create_connection((address, 443), timeout)
        connection.sock = connection._context.wrap_socket(raw, server_hostname=host)  # type: ignore[attr-defined]

    connection.connect = connect  # type: ignore[method-assign]
    return connection


class HttpsResponder:
    """The production transport: an HTTPS PUT to the presigned S3 URL."""

    def __init__(
        self,
        resolve: Callable[[str], list[str]] = resolve_host,
        connection: Callable[[str, str, float], http.client.HTTPSConnection] = _pinned_connection,
    ) -> None:
        self._resolve = resolve
        self._connection = connection

    def send(self, response_url: str, region: str, body: dict[str, Any]) -> None:
        checked: list[str] = []

        def resolve_once(host: str) -> list[str]:
            checked.extend(self._resolve(host))
            return checked

        url = check_response_url(response_url, region=region, resolve=resolve_once)
        parts = urlsplit(url)
        host = parts.hostname or ""
        data = encode_body(body)
        connection = self._connection(host, checked[0], 10.0)
        try:
            connection.request(
                "PUT",
                f"{parts.path}?{parts.query}",
                body=data,
                headers={"Host": host, "Content-Type": "", "Content-Length": str(len(data))},
            )
            status = connection.getresponse().status
        except (OSError, http.client.HTTPException) as exc:
            raise ResponseDeliveryFailed(f"could not reach {host}") from exc
        finally:
            connection.close()
        if not 200 <= status < 300:  # a 3xx is a failure too: redirects are never followed
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
