"""What every stack spec model shares: strict, closed models, and errors that name their rule."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import PydanticCustomError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, hide_input_in_errors=True)


def fail(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def fail_ctx(kind: str, message: str, ctx: dict[str, Any]) -> PydanticCustomError:
    return PydanticCustomError(kind, message, ctx)
