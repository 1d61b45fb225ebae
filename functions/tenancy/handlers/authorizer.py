"""API Gateway REQUEST authorizer: verifies the caller's OIDC token and names its org and role.

API Gateway answers 401 when this function fails with the message ``Unauthorized`` exactly; any
other failure becomes a 500, which is what an unreachable JWKS (our fault) should look like.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from functions.shared.observability import logger as make_logger
from functions.tenancy.exceptions import InvalidToken
from functions.tenancy.integrations.jwks import JwksKeyResolver
from functions.tenancy.logic.authorize import TokenVerifier, authorize
from functions.tenancy.settings import get_settings

logger = make_logger("tenancy")


@lru_cache
def _verifier() -> TokenVerifier:
    settings = get_settings()
    keys = JwksKeyResolver(settings.jwks_url, cache_seconds=settings.jwks_cache_seconds)
    return TokenVerifier(
        keys,
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        leeway_seconds=settings.jwt_leeway_seconds,
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return authorize(
            event.get("headers"), event.get("multiValueHeaders"), event["methodArn"], _verifier()
        )
    except InvalidToken as refused:
        # The reason names the failed check only: never the token, never its claims.
        logger.info("Refused a caller", extra={"reason": refused.reason})
        raise Exception("Unauthorized") from None  # API Gateway's 401 contract: this exact message
