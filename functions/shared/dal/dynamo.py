"""Binding pynamodb models to the deployed tables, once per process (each composition root).

Left to itself, pynamodb gives every model its own ``Connection``, and every ``Connection`` a new
botocore session (pynamodb#1245): the first request on each table re-reads botocore's endpoint and
service data and builds another DynamoDB client, ~100 ms of a cold request per table. Here every
model's connection, and the one for transactions, builds its client on the process's session,
whose loaded data they share (~5 ms for each client after the first).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import botocore.session
from pynamodb.connection import Connection
from pynamodb.models import Model

from functions.shared.integrations import aws


class _SessionConnection(Connection):
    """A pynamodb connection on the process's botocore session."""

    @property
    def session(self) -> botocore.session.Session:
        return aws.session()

    @property
    def client(self) -> Any:
        with aws.BUILDING:
            return super().client


@functools.cache
def connection(region: str) -> Connection:
    """The process's connection to ``region`` for transactions (their items name their tables)."""
    return _SessionConnection(region=region)


def bind(region: str, tables: Mapping[type[Model], str]) -> None:
    """Points each model at its table (names come from settings, so tests can set them first)."""
    for model, name in tables.items():
        meta: Any = model.Meta
        meta.table_name = name
        meta.region = region
        model._connection = None  # pynamodb caches the connection per model: build it anew...
        table = model._get_connection()
        own = _SessionConnection(region=region)  # ...and give it one on the shared session
        own.add_meta_table(table.get_meta_table())  # (known from the model: no DescribeTable)
        table.connection = own


def conditional_check_failed(exc: Exception) -> bool:
    """A write refused because its condition did not hold: recognised here, by error code only."""
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"
