"""What every REST function shares: JSON bodies only, errors in one shape."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from pydantic import BaseModel, Field

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class FieldError(BaseModel):
    field: str
    message: str
    in_: str = Field(alias="in", description="body, path or query")


class ErrorBody(BaseModel):
    """Every 4xx/5xx an API function answers itself."""

    message: str
    field: str | None = None
    errors: list[FieldError] | None = None


def error_responses(*statuses: int, ok: int | None = 200) -> dict[int, Any]:
    """OpenAPI entries for the errors a route may answer, all in the ErrorBody shape, and its 200
    (the handler's return model; ``ok=None`` when the route documents its own 2xx)."""
    words = {
        400: "Bad request",
        401: "No valid credentials",
        403: "Your role does not allow this",
        404: "Not found (or in another org)",
        409: "Conflicts with an existing object",
        415: "The body is not JSON",
        422: "Invalid input: every field at fault is named",
        424: "The customer's AWS account refused us (e.g. its role was removed): reconnect it",
        503: "A dependency failed; nothing was changed",
    }
    documented: dict[int, Any] = {200: {"description": "Done"}} if ok == 200 else {}
    return documented | {
        s: {"description": words[s], "content": {"application/json": {"model": ErrorBody}}} for s in statuses
    }


def error(status: int, message: str, **extra: Any) -> Response[Any]:
    body = {"message": message, **extra}
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def invalid_request(errors: Sequence[Mapping[str, Any]]) -> Response[Any]:
    """422 naming every field at fault, in words (Powertools' own answer gives only codes)."""
    fields = []
    for err in errors:
        location = [str(part) for part in err.get("loc", ())]
        where = location[0] if location else "body"
        name = ".".join(location[1:]) or where
        if err.get("type") == "json_invalid":  # its loc is a character offset, not a field
            name = "body"
        fields.append({"field": name, "in": where, "message": str(err.get("msg") or err.get("type"))})
    names = ", ".join(dict.fromkeys(f["field"] for f in fields)) or "body"
    return error(422, f"invalid request: {names}", errors=fields)


def refuse_non_json(event: dict[str, Any]) -> dict[str, Any] | None:
    """A body not declared JSON gets a 415 before validation, instead of being misread as a form;
    a body that is not UTF-8 (JSON's only encoding) gets a 422 naming it, never a crash."""
    if event.get("httpMethod") not in BODY_METHODS or not event.get("body"):
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    declared = str(headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if declared == "application/json":
        if event.get("isBase64Encoded") and not _utf8(str(event["body"])):
            return {
                "statusCode": 422,
                "headers": {"Content-Type": content_types.APPLICATION_JSON},
                "body": json.dumps(
                    {
                        "message": "invalid request: body",
                        "errors": [{"field": "body", "in": "body", "message": "not UTF-8 encoded JSON"}],
                    }
                ),
                "isBase64Encoded": False,
            }
        return None
    return {
        "statusCode": 415,
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"message": "Content-Type must be application/json", "field": "Content-Type"}),
        "isBase64Encoded": False,
    }


def _utf8(body_base64: str) -> bool:
    try:
        base64.b64decode(body_base64.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return False
    return True
