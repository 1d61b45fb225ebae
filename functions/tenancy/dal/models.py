"""pynamodb models of the tenancy tables (the CDK app and the local cloud create tables from these)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class OrgModel(Model):
    class Meta:
        table_name = "orgs"
        billing_mode = "PAY_PER_REQUEST"

    org_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    owner_count = NumberAttribute()  # kept in the same transaction as every owner change


class MemberModel(Model):
    class Meta:
        table_name = "members"
        billing_mode = "PAY_PER_REQUEST"

    org_id = UnicodeAttribute(hash_key=True)
    user_id = UnicodeAttribute(range_key=True)
    role = UnicodeAttribute()
    added_by = UnicodeAttribute()
    added_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class OrgKeysIndex(GlobalSecondaryIndex["ApiKeyModel"]):  # type: ignore[no-untyped-call]
    """Listing an org's keys; the authorizer reads by key id (the hash key)."""

    class Meta:
        index_name = "org_id-index"
        projection = AllProjection()

    org_id = UnicodeAttribute(hash_key=True)
    key_id = UnicodeAttribute(range_key=True)


class ApiKeyModel(Model):
    class Meta:
        table_name = "api-keys"
        billing_mode = "PAY_PER_REQUEST"

    key_id = UnicodeAttribute(hash_key=True)
    org_id = UnicodeAttribute()
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    created_by = UnicodeAttribute()
    key_hash = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    revoked_at = UTCDateTimeAttribute(null=True)
    last_used_at = UTCDateTimeAttribute(null=True)

    by_org = OrgKeysIndex()


class ApiKeyNameModel(Model):
    """An org's claim on a key name, held by its active key: in the keys' table, written in the same
    transaction as the key (a conditional put: two keys racing for one name cannot both win) and
    deleted in the same transaction as the revocation. An expired key's claim is free to take (its
    ``expires_at`` has passed); one sorts as ``name#...`` and has no ``org_id``, so neither the
    authorizer's reads by key id nor the org's index ever meet it."""

    class Meta:
        table_name = "api-keys"  # the keys' table, bound by dal.configure()
        billing_mode = "PAY_PER_REQUEST"

    claim = UnicodeAttribute(hash_key=True, attr_name="key_id")  # name#<org id>#<casefolded name>
    holder_id = UnicodeAttribute()  # the active key's id
    expires_at = UTCDateTimeAttribute()  # the holder's expiry: after it, the name is free
