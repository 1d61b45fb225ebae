"""Settings of the tenancy domain, read once per process from the function's environment."""

from __future__ import annotations

from ipaddress import ip_address
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from functions.shared.settings import ServiceSettings, settings_getter

_LOOPBACK_NAMES = frozenset({"localhost"})


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


class TenancySettings(ServiceSettings):
    orgs_table: str = "stackpilot-local-orgs"
    members_table: str = "stackpilot-local-members"
    api_keys_table: str = "stackpilot-local-api-keys"
    # The secret API keys are hashed with: its id in Secrets Manager (never its value in the env).
    api_key_pepper_secret: str = "stackpilot-local/api-key-pepper"  # noqa: S105 - a name


class AuthorizerSettings(TenancySettings):
    """The authorizer trusts one issuer: no default, so a missing setting fails closed."""

    jwt_issuer: str = Field(min_length=1)
    jwt_audience: str = Field(min_length=1)
    jwks_url: str
    # Clock skew tolerated on exp/nbf/iat; kept small so a stolen expired token stays dead.
    jwt_leeway_seconds: int = Field(default=10, ge=0, le=30)
    # How long a fetched JWKS is trusted before it is fetched again (rotation picks up sooner:
    # an unknown kid forces a refresh, at most once per cooldown).
    jwks_cache_seconds: int = Field(default=300, ge=1, le=3600)

    @field_validator("jwks_url")
    @classmethod
    def _https_unless_loopback(cls, value: str) -> str:
        # A JWKS fetched over plain HTTP from another host lets anyone on the path mint tokens.
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value
        if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
            return value
        raise ValueError("JWKS_URL must be https (plain http only on a loopback address)")


@settings_getter
def get_settings() -> TenancySettings:
    return TenancySettings.from_env()


@settings_getter
def get_authorizer_settings() -> AuthorizerSettings:
    return AuthorizerSettings.from_env()  # required fields come from the environment
