"""The public event contract: one JSON Schema per event type, generated from the pydantic models.

``python -m infra.event_schemas`` rewrites events/schemas/; a contract test fails when they drift.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from functions.accounts.models.events import ACCOUNT_EVENTS
from functions.shared.models.events import DomainEvent
from functions.stacks.models.events import STACK_EVENTS
from infra.definitions import REPO_ROOT

SCHEMAS_DIR = REPO_ROOT / "events" / "schemas"
EVENT_MODELS: tuple[type[DomainEvent], ...] = (*ACCOUNT_EVENTS, *STACK_EVENTS)


def schema_for(model: type[DomainEvent]) -> dict[str, Any]:
    detail = model.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://stackpilot.dev/events/{model.SOURCE}/{model.DETAIL_TYPE}.json",
        "title": model.DETAIL_TYPE,
        "description": f"detail of '{model.DETAIL_TYPE}' events from source '{model.SOURCE}'",
        "x-source": model.SOURCE,
        "x-detail-type": model.DETAIL_TYPE,
        **{k: v for k, v in detail.items() if k != "title"},
    }


def schema_path(model: type[DomainEvent]) -> Path:
    return SCHEMAS_DIR / f"{model.SOURCE}.{model.DETAIL_TYPE}.json"


def render(model: type[DomainEvent]) -> str:
    return json.dumps(schema_for(model), indent=2, sort_keys=True) + "\n"


def main() -> int:
    SCHEMAS_DIR.mkdir(parents=True, exist_ok=True)
    for model in EVENT_MODELS:
        schema_path(model).write_text(render(model))
        print(f"wrote {schema_path(model).relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
