"""Bodies of the tenancy API: orgs, members, API keys, the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from functions.shared.models.audit import AuditEntry, Finding
from functions.shared.models.principal import Role, UserId
from functions.tenancy.models.org import KeyId, OrgName

_REQUEST = ConfigDict(extra="forbid")


class CreateOrgRequest(BaseModel):
    model_config = _REQUEST
    name: OrgName


class RenameOrgRequest(BaseModel):
    model_config = _REQUEST
    name: OrgName


class OrgView(BaseModel):
    org_id: str
    name: str
    created_at: datetime
    your_role: Role | None = Field(description="Your role in this org, looked up now")


class AddMemberRequest(BaseModel):
    model_config = _REQUEST
    user_id: UserId = Field(description="The user's subject (sub) at the identity provider")
    role: Role


class ChangeRoleRequest(BaseModel):
    model_config = _REQUEST
    role: Role


class MemberView(BaseModel):
    user_id: str
    role: Role
    added_by: str
    added_at: datetime
    updated_at: datetime


class MemberList(BaseModel):
    items: list[MemberView]


class CreateApiKeyRequest(BaseModel):
    model_config = _REQUEST
    name: str = Field(min_length=1, max_length=100, description="What the key is for, e.g. 'CI deploys'")
    role: Role = Field(
        description="At most your own role; the key never acts above its creator's current role"
    )
    expires_in_days: int = Field(default=90, ge=1, le=365)


class ApiKeyView(BaseModel):
    key_id: KeyId
    name: str
    role: Role
    created_by: str
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None
    status: Literal["active", "revoked", "expired"]


class CreatedApiKey(ApiKeyView):
    key: str = Field(description="The key itself: shown this once, never again. Send it as 'Bearer <key>'.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyView]


class AuditPage(BaseModel):
    items: list[AuditEntry] = Field(description="Newest first")
    next_cursor: int | None = Field(description="Pass as ?cursor= for the next (older) page")


class AuditVerification(BaseModel):
    ok: bool
    checked: int = Field(description="Entries checked by this call")
    head_seq: int = Field(description="The chain's last entry when the call began")
    from_seq: int = Field(description="The entry this page is anchored on (0: the genesis)")
    to_seq: int = Field(description="The last entry this page checked")
    next_after: int | None = Field(
        description="More entries to the head: pass as ?after= to check the next page (null: done)"
    )
    first_bad: Finding | None = Field(
        description="The first entry at fault; position counts from the genesis"
    )
    message: str
