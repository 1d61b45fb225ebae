"""Base settings: every domain's settings class extends this and is read once per process, through a
getter decorated with ``settings_getter`` (a registry, so that whatever hosts many "containers" in
one process - the local cloud, a test - can make every domain read its environment again)."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="ServiceSettings")

_GETTERS: list[Any] = []


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    stackpilot_stage: str = "local"
    service_account_id: str = "123456789012"
    aws_region: str = "us-east-1"
    # Every function that changes something appends to the org's audit log.
    audit_table: str = "stackpilot-local-audit"


def settings_getter(read: Callable[[], S]) -> Callable[[], S]:
    """``read`` once per process (until ``reset_all``): ``@settings_getter def get_settings() -> ...``."""
    cached = lru_cache(maxsize=1)(read)
    _GETTERS.append(cached)
    return cached


def reset_all() -> None:
    """Every registered domain's settings are read from the environment again on next use."""
    for getter in _GETTERS:
        getter.cache_clear()
