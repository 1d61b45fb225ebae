"""Settings of the secrets domain, read once per process from the function's environment."""

from __future__ import annotations

from functools import lru_cache

from functions.shared.settings import ServiceSettings


class SecretsSettings(ServiceSettings):
    secrets_table: str = "stackpilot-local-secrets"
    # The KMS key that wraps every data key (an alias is fine: records keep the key ARN).
    secrets_key_id: str = "alias/stackpilot-local"


@lru_cache
def get_settings() -> SecretsSettings:
    return SecretsSettings()
