"""Development only: make the org and the membership a local token names, so that
``stackpilot local token --org ORG --role ROLE --user USER`` gives a caller that role at once.

It writes through the product's own store, so the org's audit chain records the grant (as
``service:local-token``) and stays verifiable. Never part of a deployment.
"""

from __future__ import annotations

from functions.shared.clock import now
from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog
from functions.shared.models.audit import AuditDraft
from functions.shared.models.principal import Role
from functions.tenancy.dal import repository
from functions.tenancy.models.org import Member, Org
from infra.definitions import Names

ACTOR = "service:local-token"
PLACEHOLDER_OWNER = "local-owner"


def ensure_membership(names: Names, org_id: str, user_id: str, role: str) -> None:
    """Creates ``org_id`` if missing and gives ``user_id`` exactly ``role`` in it."""
    wanted = Role(role)
    repository.configure(
        orgs_table=names.table("orgs"),
        members_table=names.table("members"),
        api_keys_table=names.table("api-keys"),
        region=names.region,
    )
    audit_store.configure(names.table("audit"), names.region)
    store = repository.DynamoTenancyStore(DynamoAuditLog())
    when = now()

    def audit(action: str, target: str, reason: str) -> AuditDraft:
        return AuditDraft(
            org_id=org_id,
            actor=ACTOR,
            actor_type="service",
            action=action,
            target=target,
            result="succeeded",
            reason=reason,
            source="stackpilot local token",
            time=when,
        )

    if store.get_org(org_id) is None:
        # An org always has an owner: the user if they asked to be one, else a placeholder.
        owner_id = user_id if wanted is Role.OWNER else PLACEHOLDER_OWNER
        org = Org(org_id=org_id, name=org_id, created_by=owner_id, created_at=when, owner_count=1)
        owner = Member(
            org_id=org_id, user_id=owner_id, role=Role.OWNER, added_by=ACTOR, added_at=when, updated_at=when
        )
        store.create_org(org, owner, audit("org.create", f"org:{org_id}", "development token"))
    member = store.get_member(org_id, user_id)
    if member is None:
        new = Member(
            org_id=org_id, user_id=user_id, role=wanted, added_by=ACTOR, added_at=when, updated_at=when
        )
        store.add_member(new, audit("member.add", f"member:{user_id}", f"development token as {wanted}"))
    elif member.role is not wanted:
        reason = f"development token: {member.role} -> {wanted}"
        store.change_role(member, wanted, when, audit("member.change_role", f"member:{user_id}", reason))
