"""pynamodb models: the tables' schemas (the CDK app and the local cloud create tables from these)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class ConnectionIdIndex(GlobalSecondaryIndex["ConnectionModel"]):  # type: ignore[no-untyped-call]
    """Callbacks name a connection id only; the API always reads through org_id (the hash key)."""

    class Meta:
        index_name = "connection_id-index"
        projection = AllProjection()

    connection_id = UnicodeAttribute(hash_key=True)


class ConnectionModel(Model):
    class Meta:
        table_name = "accounts"  # bound to the real name by dal.configure()
        billing_mode = "PAY_PER_REQUEST"

    org_id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)
    aws_account_id = UnicodeAttribute()
    region = UnicodeAttribute()
    status = UnicodeAttribute()
    external_id = UnicodeAttribute()
    nonce_hash = UnicodeAttribute(null=True)
    nonce_expires_at = UTCDateTimeAttribute()
    template_key = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    created_by = UnicodeAttribute()
    role_arn = UnicodeAttribute(null=True)
    stack_id = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    connected_at = UTCDateTimeAttribute(null=True)
    execution_arn = UnicodeAttribute(null=True)
    task_token = UnicodeAttribute(null=True)
    health = UnicodeAttribute(null=True)
    health_reason = UnicodeAttribute(null=True)
    health_checked_at = UTCDateTimeAttribute(null=True)
    template_version = UnicodeAttribute(null=True)  # absent on records from before v3: read as v2
    version = NumberAttribute(default=0)

    by_connection_id = ConnectionIdIndex()


class AccountClaimModel(Model):
    """An org's claim on one account and region, held by its live connection (PENDING or CONNECTED).

    It lives in the connections table, beside the connections it guards: the conditional put that
    takes it shares the transaction that writes its connection (and the audit entry), and the write
    that moves the connection out of the live statuses deletes it. Its sort key (``claim#...``) never
    matches a connection id (``conn_...``), which is how reads of connections skip it.
    """

    class Meta:
        table_name = "accounts"  # the connections' table, bound by dal.configure()
        billing_mode = "PAY_PER_REQUEST"

    org_id = UnicodeAttribute(hash_key=True)
    claim = UnicodeAttribute(range_key=True, attr_name="connection_id")  # claim#<account>#<region>
    holder_id = UnicodeAttribute()  # the live connection's id


class CallbackRequestModel(Model):
    class Meta:
        table_name = "account-callbacks"
        billing_mode = "PAY_PER_REQUEST"

    request_key = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute()
    org_id = UnicodeAttribute(null=True)
    request_type = UnicodeAttribute()
    stack_id = UnicodeAttribute()
    request_id = UnicodeAttribute()
    logical_resource_id = UnicodeAttribute()
    physical_resource_id = UnicodeAttribute(null=True)
    response_url = UnicodeAttribute()
    region = UnicodeAttribute()
    status = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
