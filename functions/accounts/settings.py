from __future__ import annotations

from pydantic import field_validator

from functions.shared.settings import ServiceSettings, settings_getter


class AccountsSettings(ServiceSettings):
    accounts_table: str = "stackpilot-local-accounts"
    account_callbacks_table: str = "stackpilot-local-account-callbacks"
    event_bus_name: str = "stackpilot-local"
    service_bucket: str = "stackpilot-local-service-123456789012-us-east-1"
    connect_account_state_machine_arn: str = (
        "arn:aws:states:us-east-1:123456789012:stateMachine:stackpilot-local-connect-account"
    )
    customer_assumer_role_arn: str = "arn:aws:iam::123456789012:role/stackpilot-local-customer-assumer"
    callback_topic_name: str = "stackpilot-local-connection-callbacks"
    supported_regions: tuple[str, ...] = ("us-east-1",)  # comma-separated in the environment
    # How long a customer has to deploy the role stack; also the nonce's lifetime.
    connect_window_seconds: int = 3600
    # The local cloud delivers custom-resource answers to its own S3 instead of the real endpoint.
    response_url_endpoint_override: str | None = None

    @field_validator("supported_regions", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(r.strip() for r in value.split(",") if r.strip())
        return value


@settings_getter
def get_settings() -> AccountsSettings:
    return AccountsSettings.from_env()
