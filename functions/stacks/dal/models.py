"""pynamodb models: the stacks domain's tables (the CDK app and the local cloud create them from
these), and its read-only view of the accounts domain's connections."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model


class CfnStackIdIndex(GlobalSecondaryIndex["StackModel"]):  # type: ignore[no-untyped-call]
    """A forwarded status event names the CloudFormation stack id only."""

    class Meta:
        index_name = "cfn_stack_id-index"
        projection = KeysOnlyProjection()

    cfn_stack_id = UnicodeAttribute(hash_key=True)


class StackModel(Model):
    class Meta:
        table_name = "stacks"
        billing_mode = "PAY_PER_REQUEST"

    org_id = UnicodeAttribute(hash_key=True)
    stack_id = UnicodeAttribute(range_key=True)
    connection_id = UnicodeAttribute()
    aws_account_id = UnicodeAttribute()
    region = UnicodeAttribute()
    name = UnicodeAttribute()
    stage = UnicodeAttribute()
    cfn_stack_name = UnicodeAttribute()
    spec = JSONAttribute()
    secret_arns = JSONAttribute(default=dict)
    retired_secret_arns = JSONAttribute(default=dict)
    subnets = JSONAttribute(default=dict)
    status = UnicodeAttribute()
    operation = UnicodeAttribute()
    operation_seq = NumberAttribute(default=1)
    cfn_stack_id = UnicodeAttribute(null=True)
    cfn_status = UnicodeAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    failure = JSONAttribute(null=True)
    outputs = JSONAttribute(default=dict)
    template_key = UnicodeAttribute(null=True)
    execution_arn = UnicodeAttribute(null=True)
    wait_token = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    status_changed_at = UTCDateTimeAttribute()

    by_cfn_stack_id = CfnStackIdIndex()


class StackHistoryModel(Model):
    """A stack's history, newest first by the range key (ISO time + a counter)."""

    class Meta:
        table_name = "stack-history"
        billing_mode = "PAY_PER_REQUEST"

    stack_key = UnicodeAttribute(hash_key=True)  # <org_id>#<stack_id>: always read through the org
    at_key = UnicodeAttribute(range_key=True)
    at = UTCDateTimeAttribute()
    kind = UnicodeAttribute()
    status = UnicodeAttribute()
    cfn_status = UnicodeAttribute(null=True)
    message = UnicodeAttribute()
    actor = UnicodeAttribute()


class ConnectionAccessModel(Model):
    """The accounts domain's connections, as far as reaching a customer's account needs them: the
    published read contract of that table (a test holds it to the accounts domain's own model).
    Read only: the stacks functions have no write grant on it."""

    class Meta:
        table_name = "accounts"

    org_id = UnicodeAttribute(hash_key=True)
    connection_id = UnicodeAttribute(range_key=True)
    aws_account_id = UnicodeAttribute()
    region = UnicodeAttribute()
    status = UnicodeAttribute()
    external_id = UnicodeAttribute()
    role_arn = UnicodeAttribute(null=True)
