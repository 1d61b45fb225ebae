"""The tenancy domain's own records: orgs, their members, API keys."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from functions.shared.models.ids import OrgId
from functions.shared.models.principal import Role, UserId

#: An API key's public id (``sp_<id>_<secret>``): 12 lower-case base32 characters.
KEY_ID_PATTERN = r"^[a-z2-7]{12}$"
KeyId = Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)]
OrgName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]


class Org(BaseModel):
    model_config = ConfigDict(frozen=True)

    org_id: OrgId
    name: str
    created_by: UserId
    created_at: datetime
    owner_count: int


class Member(BaseModel):
    model_config = ConfigDict(frozen=True)

    org_id: OrgId
    user_id: UserId
    role: Role
    added_by: str
    added_at: datetime
    updated_at: datetime


class ApiKey(BaseModel):
    """A stored key: only its keyed hash, never the key."""

    model_config = ConfigDict(frozen=True)

    key_id: KeyId
    org_id: OrgId
    name: str
    role: Role
    created_by: UserId
    key_hash: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None

    def usable_at(self, when: datetime) -> bool:
        return self.revoked_at is None and when < self.expires_at
