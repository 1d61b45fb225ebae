"""The ids stackpilot hands out, each declared once: its pattern (for models and path parameters)
and how a new one is made.

Ids are lower-case base32 where stackpilot makes them (readable, case-insensitive-safe in IAM names
and URLs). A stack's id is derived from what makes it unique, so the same stack asked for twice is
one stack (a retried POST is a 409, not a second stack).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import Annotated, Final

from pydantic import StringConstraints

ORG_ID_PATTERN: Final = r"^org_[A-Za-z0-9_-]{1,64}$"
CONNECTION_ID_PATTERN: Final = r"^conn_[a-z0-9]{26}$"
STACK_ID_PATTERN: Final = r"^stk_[a-z2-7]{26}$"

OrgId = Annotated[str, StringConstraints(pattern=ORG_ID_PATTERN)]
ConnectionId = Annotated[str, StringConstraints(pattern=CONNECTION_ID_PATTERN)]
StackId = Annotated[str, StringConstraints(pattern=STACK_ID_PATTERN)]


def _base32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=").lower()


def new_org_id() -> str:
    return "org_" + _base32(secrets.token_bytes(10))


def new_connection_id() -> str:
    return "conn_" + _base32(secrets.token_bytes(16))


def stack_id_for(org_id: str, connection_id: str, region: str, name: str, stage: str) -> str:
    """Deterministic: one org's stack of this name and stage on this connection and region."""
    digest = hashlib.sha256(f"{org_id}|{connection_id}|{region}|{name}|{stage}".encode()).digest()
    return "stk_" + _base32(digest[:16])
