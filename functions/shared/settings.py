"""Base settings: every domain's settings class extends this and is read once per process."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    stackpilot_stage: str = "local"
    service_account_id: str = "123456789012"
    aws_region: str = "us-east-1"
    # Every function that changes something appends to the org's audit log.
    audit_table: str = "stackpilot-local-audit"
