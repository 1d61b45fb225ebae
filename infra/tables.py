"""DynamoDB table specifications read from the pynamodb models (the one schema both sides use)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pynamodb.attributes import TTLAttribute
from pynamodb.models import Model

_TYPES = {"S": "S", "N": "N", "B": "B"}


@dataclass(frozen=True)
class IndexSpec:
    name: str
    hash_key: tuple[str, str]
    range_key: tuple[str, str] | None


@dataclass(frozen=True)
class TableSpec:
    hash_key: tuple[str, str]  # (attribute name, S|N|B)
    range_key: tuple[str, str] | None
    indexes: tuple[IndexSpec, ...]
    ttl_attribute: str | None


def load_model(dotted: str) -> type[Model]:
    module, _, name = dotted.rpartition(".")
    model = getattr(importlib.import_module(module), name)
    assert issubclass(model, Model), dotted
    return model


def table_spec(model: type[Model]) -> TableSpec:
    attrs = model.get_attributes()

    def key(name: str | None) -> tuple[str, str] | None:
        if name is None:
            return None
        return (attrs[name].attr_name, _TYPES[attrs[name].attr_type])

    indexes = []
    for index in model._indexes.values():
        index_attrs = index.Meta.attributes
        hash_name = next(n for n, a in index_attrs.items() if a.is_hash_key)
        range_name = next((n for n, a in index_attrs.items() if a.is_range_key), None)
        indexes.append(IndexSpec(index.Meta.index_name, key(hash_name), key(range_name)))  # type: ignore[arg-type]
    ttl = next((a.attr_name for a in attrs.values() if isinstance(a, TTLAttribute)), None)
    hash_key = key(model._hash_keyname)
    assert hash_key is not None
    return TableSpec(hash_key, key(model._range_keyname), tuple(indexes), ttl)


def create_table_request(name: str, spec: TableSpec) -> dict[str, Any]:
    """boto3 CreateTable parameters for the spec (what the local cloud creates)."""
    definitions: dict[str, str] = {}
    for k in (
        spec.hash_key,
        spec.range_key,
        *(i.hash_key for i in spec.indexes),
        *(i.range_key for i in spec.indexes),
    ):
        if k is not None:
            definitions[k[0]] = k[1]

    def schema(h: tuple[str, str], r: tuple[str, str] | None) -> list[dict[str, str]]:
        out = [{"AttributeName": h[0], "KeyType": "HASH"}]
        if r is not None:
            out.append({"AttributeName": r[0], "KeyType": "RANGE"})
        return out

    request: dict[str, Any] = {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": n, "AttributeType": t} for n, t in sorted(definitions.items())
        ],
        "KeySchema": schema(spec.hash_key, spec.range_key),
    }
    if spec.indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": i.name,
                "KeySchema": schema(i.hash_key, i.range_key),
                "Projection": {"ProjectionType": "ALL"},
            }
            for i in spec.indexes
        ]
    return request
