"""Settings of the secrets domain, read once per process from the function's environment."""

from __future__ import annotations

from functions.shared.settings import ServiceSettings, settings_getter


class SecretsSettings(ServiceSettings):
    secrets_table: str = "stackpilot-local-secrets"
    # The KMS key that wraps every data key (an alias is fine: records keep the key ARN).
    secrets_key_id: str = "alias/stackpilot-local"


@settings_getter
def get_settings() -> SecretsSettings:
    return SecretsSettings.from_env()
