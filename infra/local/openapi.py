"""One OpenAPI document for the whole REST API, merged from the API functions' own schemas.

Each API handler module exposes ``app``, a Powertools ``APIGatewayRestResolver`` with validation
on; its routes and pydantic models are the contract. The document keeps exactly the operations
``ROUTES`` exposes through API Gateway and marks the authorized ones with the bearer scheme.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from functions.shared.logic.access import route_access
from infra.definitions import RouteDef, function

BEARER_SCHEME = "bearerAuth"
OPENAPI_VERSION = "3.1.0"
_BEARER = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": (
        "An OIDC access token (RS256) from the configured issuer, naming the caller's org; or an API "
        "key `sp_<key id>_<secret>`. The caller's role is looked up at every request."
    ),
}
_GATEWAY_BODY = {"$ref": "#/components/schemas/ErrorBody"}
_AUTH_RESPONSES = {
    "401": {
        "description": "Missing, expired or invalid credentials",
        "content": {"application/json": {"schema": _GATEWAY_BODY}},
    },
    "403": {
        "description": "Your role (see x-required-role) may not do this",
        "content": {"application/json": {"schema": _GATEWAY_BODY}},
    },
}


class OpenApiMismatch(ValueError):
    """ROUTES and the API functions' own schemas disagree, or two functions define one model differently."""


def _handler_of(function_key: str) -> str:
    return function(function_key).handler


def build_openapi(
    routes: Sequence[RouteDef],
    title: str = "stackpilot",
    version: str = "0.1.0",
    *,
    handler_of: Callable[[str], str] = _handler_of,
) -> dict[str, Any]:
    """Merge the OpenAPI of every function ``routes`` name; ``handler_of`` maps a key to its Handler."""
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, dict[str, Any]] = {"securitySchemes": {BEARER_SCHEME: dict(_BEARER)}}
    operation_ids: set[str] = set()
    for key in dict.fromkeys(route.function for route in routes):
        schema = _function_schema(handler_of(key), title, version)
        _merge_components(components, schema.get("components", {}), key)
        for route in (r for r in routes if r.function == key):
            operation = schema.get("paths", {}).get(route.path, {}).get(route.method.lower())
            if operation is None:
                raise OpenApiMismatch(
                    f"{route.method} {route.path} is in ROUTES but {key}'s app does not serve it"
                )
            paths.setdefault(route.path, {})[route.method.lower()] = _operation(
                operation, route, key, operation_ids
            )
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": components,
    }


def _function_schema(handler: str, title: str, version: str) -> dict[str, Any]:
    module = importlib.import_module(handler.rpartition(".")[0])
    app = getattr(module, "app", None)
    if app is None or not hasattr(app, "get_openapi_schema"):
        raise OpenApiMismatch(f"{module.__name__} exposes no Powertools resolver named app")
    document = app.get_openapi_schema(title=title, version=version)
    return dict(document.model_dump(mode="json", by_alias=True, exclude_none=True))


def _merge_components(merged: dict[str, dict[str, Any]], incoming: dict[str, Any], key: str) -> None:
    for section, entries in incoming.items():
        target = merged.setdefault(section, {})
        for name, definition in entries.items():
            if name in target and target[name] != definition:
                raise OpenApiMismatch(
                    f"components.{section}.{name} from {key} differs from another function's"
                )
            target[name] = definition


def _operation(
    operation: dict[str, Any], route: RouteDef, key: str, operation_ids: set[str]
) -> dict[str, Any]:
    result = dict(operation)
    result.setdefault("summary", route.summary)
    operation_id = result.get("operationId")
    if operation_id in operation_ids:
        result["operationId"] = operation_id = f"{key.replace('-', '_')}__{operation_id}"
    if operation_id:
        operation_ids.add(operation_id)
    access = route_access(route.method, route.path)
    if access is not None:
        # The authorizer's rule for this route, from the one table (functions/shared/logic/access.py).
        result["x-required-role"] = access.required
        result["x-api-keys"] = access.api_keys
        result["x-audited"] = access.mutating
    if route.authorized:
        result["security"] = [{BEARER_SCHEME: []}]
        responses = dict(result.get("responses", {}))
        for code, response in _AUTH_RESPONSES.items():
            responses.setdefault(code, response)
        result["responses"] = responses
    return result
