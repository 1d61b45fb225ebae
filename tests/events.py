"""Sample events shipped in events/ (the 3-line loader every test tier uses)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"


def load_event(relative: str) -> Any:
    return json.loads((EVENTS_DIR / relative).read_text())
