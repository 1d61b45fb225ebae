"""The issuer's published keys, fetched over HTTPS with PyJWT's JWKS client (cached per process)."""

from __future__ import annotations

from typing import Any

from jwt import PyJWKClient, PyJWKClientConnectionError, PyJWKClientError, PyJWKSetError

from functions.tenancy.exceptions import InvalidToken, KeySetUnavailable


class JwksKeyResolver:
    """``KeyResolver`` over a JWKS URL: only the keys the configured issuer publishes are ever used."""

    def __init__(
        self,
        jwks_url: str,
        *,
        cache_seconds: float = 300,
        timeout_seconds: float = 2.0,
        refresh_cooldown_seconds: float = 30,
    ) -> None:
        # An unknown kid refetches the set (key rotation) at most once per cooldown, so a flood of
        # tokens with random kids cannot turn the authorizer into a JWKS hammer.
        self._client = PyJWKClient(
            jwks_url,
            cache_jwk_set=True,
            lifespan=cache_seconds,
            timeout=timeout_seconds,
            cooldown_duration=refresh_cooldown_seconds,
            headers={"User-Agent": "stackpilot-authorizer/1"},
        )

    def public_key(self, kid: str) -> Any:
        try:
            self._client.get_signing_keys()  # reachable and well formed (served from cache when warm)
        except (PyJWKClientError, PyJWKSetError) as error:
            raise KeySetUnavailable(f"JWKS unusable: {type(error).__name__}") from error
        try:
            jwk = self._client.get_signing_key(kid)
        except PyJWKClientConnectionError as error:
            raise KeySetUnavailable(f"JWKS unreachable: {type(error).__name__}") from error
        except (PyJWKClientError, PyJWKSetError):
            raise InvalidToken("unknown kid") from None
        if jwk.key_type != "RSA" or jwk.algorithm_name != "RS256":
            raise InvalidToken("kid names a key that is not an RS256 key")
        return jwk.key
