"""API Gateway REQUEST authorizer: who is calling (token or API key), their role now, and whether
the route's rule lets them in.

API Gateway answers 401 when this function fails with the message ``Unauthorized`` exactly, and
403 for a Deny policy; any other failure becomes a 500, which is what an unreachable JWKS or
secret store (our fault) should look like.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from functions import startup
from functions.shared.clock import now
from functions.shared.dal.audit_store import AppendPolicy, DynamoAuditLog
from functions.shared.integrations import aws
from functions.shared.observability import logger as make_logger
from functions.tenancy.dal import repository
from functions.tenancy.exceptions import AccessDenied, InvalidToken
from functions.tenancy.integrations.jwks import JwksKeyResolver
from functions.tenancy.integrations.pepper import SecretsManagerPepper
from functions.tenancy.logic.authorize import AuthorizerDeps, TokenVerifier, authorize, policy
from functions.tenancy.settings import get_authorizer_settings

logger = make_logger("tenancy")


@lru_cache
def _deps() -> AuthorizerDeps:
    s = get_authorizer_settings()
    repository.configure_from(s)
    # The authorizer has 5 s: a denial's entry gets 2 of them, and the denial stands either way.
    audit = DynamoAuditLog(AppendPolicy(budget_seconds=2.0))
    keys = JwksKeyResolver(s.jwks_url, cache_seconds=s.jwks_cache_seconds)
    return AuthorizerDeps(
        verifier=TokenVerifier(
            keys, issuer=s.jwt_issuer, audience=s.jwt_audience, leeway_seconds=s.jwt_leeway_seconds
        ),
        keys=repository.DynamoTenancyStore(audit),
        # Only API-key callers need the pepper: token callers never pay for the Secrets Manager call.
        pepper=SecretsManagerPepper(aws.LazyClient("secretsmanager"), s.api_key_pepper_secret),
        audit=audit,
        clock=now,
    )


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        return authorize(event, _deps())
    except InvalidToken as refused:
        # The reason names the failed check only: never the token, the key or its claims.
        logger.info("Refused a caller", extra={"reason": refused.reason})
        raise Exception("Unauthorized") from None  # API Gateway's 401 contract: this exact message
    except AccessDenied as denied:
        logger.info("Denied a route", extra={"reason": denied.reason, "resource": event.get("resource")})
        if denied.unrecorded:
            logger.error("Could not record a denial in the audit log", extra={"error": denied.unrecorded})
        return policy("Deny", "denied", str(event["methodArn"]), {"reason": denied.reason})


startup.ready()  # INIT ends here
