"""What a snapshot depends on (its fingerprint) and what the world holds (the counts a restore
reports), read from moto's backends and the project's definitions."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from infra.definitions import BUS_RULES, FUNCTIONS, SCHEDULES, STATE_MACHINES, TABLES, TOPICS, Names
from infra.tables import create_table_request, load_model, table_spec

# How a restore names what it found (a table's key otherwise); callbacks are transient.
_TABLE_LABELS = {
    "accounts": "connections",
    "api-keys": "API keys",
    "stack-history": "stack history entries",
    "audit": "audit entries",
}
_UNCOUNTED_TABLES = frozenset({"account-callbacks"})
# Uniqueness claims share their records' tables (an account+region's live connection, a key name).
_CLAIM_PREFIXES = ("claim#", "name#")


def fingerprint(names: Names, account: str, stage: str, region: str) -> str:
    """The tables' schemas and the resources bootstrapped around them: a snapshot of another
    fingerprint is set aside. Code (handlers, state machine definitions, environment) is not in it:
    it is redeployed on every restore."""
    described = {
        "account": account,
        "stage": stage,
        "region": region,
        "tables": [create_table_request(names.table(t.key), table_spec(load_model(t.model))) for t in TABLES],
        "functions": [names.function(fn.key) for fn in FUNCTIONS],
        "state_machines": [names.state_machine(sm.key) for sm in STATE_MACHINES],
        "topics": [[t.subscriber, list(t.regions)] for t in TOPICS],
        "schedules": [[s.key, s.expression, s.function, s.state_machine] for s in SCHEDULES],
        "bus_rules": [[r.key, r.pattern, r.function] for r in BUS_RULES],
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def counts(names: Names, service_account: str, region: str) -> dict[str, int]:
    """Records per table (claims left out) and the customers' live stacks (a snapshot holds every
    request back while it counts)."""
    from moto.cloudformation.models import cloudformation_backends
    from moto.dynamodb.models import dynamodb_backends

    tables = dynamodb_backends[service_account][region].tables
    found: dict[str, int] = {}
    for table in TABLES:
        if table.key in _UNCOUNTED_TABLES:
            continue
        items = tables.get(names.table(table.key))
        records = [item for item in items.all_items() if not _is_claim(item)] if items is not None else []
        found[_TABLE_LABELS.get(table.key, table.key)] = len(records)
    found["customer stacks"] = sum(
        1
        for account, regions in list(cloudformation_backends.items())
        if account != service_account
        for backend in list(regions.values())
        for stack in list(backend.stacks.values())
        if stack.status != "DELETE_COMPLETE"
    )
    return found


def _is_claim(item: Any) -> bool:
    keys = (item.hash_key, item.range_key)
    return any(str(getattr(key, "value", "")).startswith(_CLAIM_PREFIXES) for key in keys if key is not None)
