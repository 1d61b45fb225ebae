"""The local REST API: an HTTP front door that behaves like API Gateway (REST API, Lambda proxy).

Every request becomes the event API Gateway would send: routes come from ``infra.definitions``,
``authorized`` routes go through the REQUEST authorizer Lambda first, and functions are reached
only through ``lambda_client.invoke`` (locally the emulator runs the handlers in-process). The
responses API Gateway itself produces (403 Missing Authentication Token, 401, 413, 502, 504, ...)
are reproduced with their messages and ``x-amzn-ErrorType`` headers. Beside the API it serves
``/health``, ``/openapi.json``, Swagger UI at ``/docs`` (offline) and the local issuer's JWKS.

The package, by seam: ``app`` (the WSGI app: matching, the authorizer, the integration), ``events``
(an HTTP request as API Gateway's proxy event), ``policy`` (the authorizer's IAM policy),
``responses`` (proxy responses and API Gateway's own errors) and ``docs`` (Swagger UI, offline).
"""

from __future__ import annotations

from infra.local.front_door.app import (
    DEFAULT_ACCOUNT_ID,
    IDENTITY_HEADER,
    INTEGRATION_TIMEOUT_SECONDS,
    MAX_LAMBDA_PAYLOAD_BYTES,
    FrontDoor,
)
from infra.local.front_door.events import MAX_BODY_BYTES, RAW_HEADERS_KEY

__all__ = [
    "DEFAULT_ACCOUNT_ID",
    "IDENTITY_HEADER",
    "INTEGRATION_TIMEOUT_SECONDS",
    "MAX_BODY_BYTES",
    "MAX_LAMBDA_PAYLOAD_BYTES",
    "RAW_HEADERS_KEY",
    "FrontDoor",
]
