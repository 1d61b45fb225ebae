"""DynamoDB adapters for the tenancy ports. pynamodb stays in this package.

Every mutation is written in one transaction with its audit entry (``DynamoAuditLog.transact``):
if the entry cannot be written, the mutation does not happen.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PynamoDBException
from pynamodb.models import Model

from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog, MutationConflict, Writes
from functions.shared.dal.dynamo import bind
from functions.shared.models.audit import AuditDraft
from functions.shared.models.principal import Role
from functions.tenancy.dal.models import ApiKeyModel, ApiKeyNameModel, MemberModel, OrgModel
from functions.tenancy.exceptions import Conflict, KeyNameTaken, NotFound
from functions.tenancy.models.org import ApiKey, Member, Org
from functions.tenancy.settings import TenancySettings

LAST_OWNER = "an org must keep at least one owner"


def configure(*, orgs_table: str, members_table: str, api_keys_table: str, region: str) -> None:
    """Binds the models to the deployed tables (called once by each handler's composition root)."""
    bind(
        region,
        {
            OrgModel: orgs_table,
            MemberModel: members_table,
            ApiKeyModel: api_keys_table,
            ApiKeyNameModel: api_keys_table,
        },
    )


def configure_from(settings: TenancySettings) -> None:
    configure(
        orgs_table=settings.orgs_table,
        members_table=settings.members_table,
        api_keys_table=settings.api_keys_table,
        region=settings.aws_region,
    )
    audit_store.configure_from(settings)


def _fields(item: Model, cls: type[Any]) -> dict[str, Any]:
    return {name: getattr(item, name) for name in cls.model_fields}


class DynamoTenancyStore:
    def __init__(self, audit: DynamoAuditLog) -> None:
        self._audit = audit

    # -- members (the authorizer reads these on every request) -----------------------------------

    def role_of(self, org_id: str, user_id: str) -> Role | None:
        member = self.get_member(org_id, user_id)
        return member.role if member else None

    def get_member(self, org_id: str, user_id: str) -> Member | None:
        try:
            return Member.model_validate(
                _fields(MemberModel.get(org_id, user_id, consistent_read=True), Member)
            )
        except DoesNotExist:
            return None

    def list_members(self, org_id: str) -> list[Member]:
        return [
            Member.model_validate(_fields(i, Member)) for i in MemberModel.query(org_id, consistent_read=True)
        ]

    def add_member(self, member: Member, audit: AuditDraft) -> None:
        item = MemberModel(**member.model_dump(mode="python"))
        item.role = member.role.value

        def writes(tx: Writes) -> None:
            tx.save(item, condition=MemberModel.user_id.does_not_exist())
            _count_owners(tx, member.org_id, +1 if member.role is Role.OWNER else 0)

        try:
            self._audit.change(audit, writes)
        except MutationConflict as conflict:
            if 0 in conflict.failed:
                raise Conflict(f"{member.user_id} is already a member of this org") from None
            raise NotFound("org not found") from None

    def change_role(self, member: Member, to: Role, when: datetime, audit: AuditDraft) -> Member:
        delta = _owner_delta(member.role, to)
        item = MemberModel(org_id=member.org_id, user_id=member.user_id)

        def writes(tx: Writes) -> None:
            tx.update(
                item,
                actions=[MemberModel.role.set(to.value), MemberModel.updated_at.set(when)],
                condition=MemberModel.role == member.role.value,
            )
            _count_owners(tx, member.org_id, delta)

        self._mutate(audit, writes, member)
        return member.model_copy(update={"role": to, "updated_at": when})

    def remove_member(self, member: Member, audit: AuditDraft) -> None:
        item = MemberModel(org_id=member.org_id, user_id=member.user_id)

        def writes(tx: Writes) -> None:
            tx.delete(item, condition=MemberModel.role == member.role.value)
            _count_owners(tx, member.org_id, -1 if member.role is Role.OWNER else 0)

        self._mutate(audit, writes, member)

    def _mutate(self, audit: AuditDraft, writes: Any, member: Member) -> None:
        try:
            self._audit.change(audit, writes)
        except MutationConflict as conflict:
            if 0 in conflict.failed:
                raise Conflict(f"{member.user_id}'s membership changed meanwhile; read it again") from None
            raise Conflict(LAST_OWNER) from None

    # -- orgs ---------------------------------------------------------------------------------

    def get_org(self, org_id: str) -> Org | None:
        try:
            return Org.model_validate(_fields(OrgModel.get(org_id, consistent_read=True), Org))
        except DoesNotExist:
            return None

    def create_org(self, org: Org, owner: Member, audit: AuditDraft) -> None:
        org_item = OrgModel(**org.model_dump(mode="python"))
        owner_item = MemberModel(**owner.model_dump(mode="python"))
        owner_item.role = owner.role.value

        def writes(tx: Writes) -> None:
            tx.save(org_item, condition=OrgModel.org_id.does_not_exist())
            tx.save(owner_item, condition=MemberModel.user_id.does_not_exist())

        try:
            self._audit.change(audit, writes)
        except MutationConflict:
            raise Conflict("that org id is taken; try again") from None

    def rename_org(self, org_id: str, name: str, audit: AuditDraft) -> None:
        def writes(tx: Writes) -> None:
            tx.update(
                OrgModel(org_id=org_id), actions=[OrgModel.name.set(name)], condition=OrgModel.org_id.exists()
            )

        try:
            self._audit.change(audit, writes)
        except MutationConflict:
            raise NotFound("org not found") from None

    # -- API keys -----------------------------------------------------------------------------

    def create_key(self, key: ApiKey, audit: AuditDraft) -> None:
        """The key and its name's claim in one transaction: a name held by another active key of
        the org (not revoked, not expired) is a ``KeyNameTaken``."""
        item = ApiKeyModel(**key.model_dump(mode="python"))
        item.role = key.role.value
        free = ApiKeyNameModel.holder_id.does_not_exist() | (ApiKeyNameModel.expires_at <= key.created_at)

        def writes(tx: Writes) -> None:
            tx.save(_name_claim(key), condition=free)
            tx.save(item, condition=ApiKeyModel.key_id.does_not_exist())

        try:
            self._audit.change(audit, writes)
        except MutationConflict as conflict:
            if 0 in conflict.failed:
                raise KeyNameTaken(key.name) from None
            raise Conflict("key id collision; try again") from None

    def get_key(self, key_id: str) -> ApiKey | None:
        try:
            return ApiKey.model_validate(_fields(ApiKeyModel.get(key_id, consistent_read=True), ApiKey))
        except DoesNotExist:
            return None

    def list_keys(self, org_id: str) -> list[ApiKey]:
        # The index is eventually consistent; a key made a moment ago may show on the next read.
        return [ApiKey.model_validate(_fields(i, ApiKey)) for i in ApiKeyModel.by_org.query(org_id)]

    def revoke_key(self, key: ApiKey, when: datetime, audit: AuditDraft) -> ApiKey:
        """Revoked, and its name freed in the same transaction (unless a newer key holds the name:
        this one had expired, and its name was taken since)."""
        mine = ApiKeyNameModel.holder_id.does_not_exist() | (ApiKeyNameModel.holder_id == key.key_id)

        def writes(tx: Writes, free_name: bool = True) -> None:
            tx.update(
                ApiKeyModel(key_id=key.key_id),
                actions=[ApiKeyModel.revoked_at.set(when)],
                condition=ApiKeyModel.org_id == key.org_id,
            )
            if free_name:
                tx.delete(_name_claim(key), condition=mine)

        try:
            self._audit.change(audit, writes)
        except MutationConflict as conflict:
            if 0 in conflict.failed:
                raise NotFound(f"API key {key.key_id} not found") from None
            try:
                self._audit.change(audit, lambda tx: writes(tx, free_name=False))
            except MutationConflict:
                raise NotFound(f"API key {key.key_id} not found") from None
        return key.model_copy(update={"revoked_at": when})

    def touch_key(self, key_id: str, when: datetime) -> None:
        # A missed last-used time never fails the request it describes.
        with contextlib.suppress(PynamoDBException):
            ApiKeyModel(key_id=key_id).update(
                actions=[ApiKeyModel.last_used_at.set(when)], condition=ApiKeyModel.key_id.exists()
            )


def name_claim_key(org_id: str, name: str) -> str:
    """Key names are one per org among active keys, compared as a person reads them: ignoring case."""
    return f"name#{org_id}#{name.strip().casefold()}"


def _name_claim(key: ApiKey) -> ApiKeyNameModel:
    return ApiKeyNameModel(
        claim=name_claim_key(key.org_id, key.name), holder_id=key.key_id, expires_at=key.expires_at
    )


def _owner_delta(before: Role, after: Role) -> int:
    return (after is Role.OWNER) - (before is Role.OWNER)


def _count_owners(tx: Writes, org_id: str, delta: int) -> None:
    """Adjusts the org's owner count in the same transaction; never below one."""
    org = OrgModel(org_id=org_id)
    if delta < 0:
        tx.update(org, actions=[OrgModel.owner_count.add(delta)], condition=OrgModel.owner_count > 1)
    elif delta > 0:
        tx.update(org, actions=[OrgModel.owner_count.add(delta)], condition=OrgModel.org_id.exists())
    else:
        tx.condition_check(OrgModel, org_id, condition=OrgModel.org_id.exists())
