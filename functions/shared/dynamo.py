"""Binding pynamodb models to the deployed tables, once per process (each composition root)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.models import Model


def bind(region: str, tables: Mapping[type[Model], str]) -> None:
    """Points each model at its table (names come from settings, so tests can set them first)."""
    for model, name in tables.items():
        meta: Any = model.Meta
        meta.table_name = name
        meta.region = region
        model._connection = None  # pynamodb caches the connection per model
