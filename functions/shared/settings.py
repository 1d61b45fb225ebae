"""Base settings: every domain's settings class extends this and is read once per process, through a
getter decorated with ``settings_getter`` (a registry, so that whatever hosts many "containers" in
one process - the local cloud, a test - can make every domain read its environment again).

A plain frozen pydantic model read from ``os.environ`` (``from_env``), not pydantic-settings: its
import alone (asyncio, its CLI and cloud sources) costs about 4x a bare interpreter's start, in every
Lambda's INIT. What it did that we use is here: each field from the variable of its name in any case,
values as strings that the model validates (and converts), defaults validated too. A field of a
complex type gets its string as is: give it a ``mode="before"`` validator that splits it."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Self, TypeVar

from pydantic import BaseModel, ConfigDict

S = TypeVar("S", bound="ServiceSettings")

_GETTERS: list[Any] = []


class ServiceSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", validate_default=True)

    stackpilot_stage: str = "local"
    service_account_id: str = "123456789012"
    aws_region: str = "us-east-1"
    # Every function that changes something appends to the org's audit log.
    audit_table: str = "stackpilot-local-audit"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings in ``environ`` (default: the process's): ``AUDIT_TABLE`` sets ``audit_table``."""
        fields = cls.model_fields
        found = {k.lower(): v for k, v in (os.environ if environ is None else environ).items()}
        return cls.model_validate({name: found[name] for name in fields if name in found})


def settings_getter(read: Callable[[], S]) -> Callable[[], S]:
    """``read`` once per process (until ``reset_all``): ``@settings_getter def get_settings() -> ...``."""
    cached = lru_cache(maxsize=1)(read)
    _GETTERS.append(cached)
    return cached


def reset_all() -> None:
    """Every registered domain's settings are read from the environment again on next use."""
    for getter in _GETTERS:
        getter.cache_clear()
