"""The service KMS key and the DynamoDB tables, each table shaped by its pynamodb model.

A table's key schema, global secondary indexes and TTL attribute are read from the model named in
its ``TableDef`` (the code that reads and writes the table) through ``infra/tables.py``, the same
reader the local cloud creates its tables with; nothing is re-declared here.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct
from pynamodb.models import Model

from infra.definitions import TABLES, Names, TableDef
from infra.tables import load_model, table_spec

_ATTRIBUTE_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}


def _attribute(key: tuple[str, str] | None) -> dynamodb.Attribute | None:
    return None if key is None else dynamodb.Attribute(name=key[0], type=_ATTRIBUTE_TYPES[key[1]])


def _projection(model: type[Model], index_name: str) -> tuple[dynamodb.ProjectionType, list[str] | None]:
    projection = model._indexes[index_name]._get_schema()["projection"]
    non_key = projection.get("NonKeyAttributes")
    return dynamodb.ProjectionType(projection["ProjectionType"]), (list(non_key) if non_key else None)


class Data(Construct):
    """The customer-managed key that encrypts everything at rest, and one table per ``TableDef``."""

    def __init__(self, scope: Construct, construct_id: str, *, names: Names) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=names.kms_alias,
            description=f"{names.prefix}: tables, queues, log groups and the service bucket",
            enable_key_rotation=True,
            pending_window=Duration.days(30),
            removal_policy=RemovalPolicy.RETAIN,
        )
        self._let_cloudwatch_logs_use_key(names)
        self.tables: dict[str, dynamodb.Table] = {t.key: self._table(t, names) for t in TABLES}

    def _let_cloudwatch_logs_use_key(self, names: Names) -> None:
        # Encrypted log groups: CloudWatch Logs uses the key on behalf of this account's groups only.
        stack = cdk.Stack.of(self)
        region = stack.region
        own_log_groups = f"arn:{stack.partition}:logs:{region}:{names.account}:*"
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{region}.amazonaws.com")],
                actions=[
                    "kms:Encrypt*",
                    "kms:Decrypt*",
                    "kms:ReEncrypt*",
                    "kms:GenerateDataKey*",
                    "kms:Describe*",
                ],
                resources=["*"],
                conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": own_log_groups}},
            )
        )

    def _table(self, definition: TableDef, names: Names) -> dynamodb.Table:
        model = load_model(definition.model)
        spec = table_spec(model)
        table = dynamodb.Table(
            self,
            definition.construct_id,
            table_name=names.table(definition.key),
            partition_key=_attribute(spec.hash_key),  # type: ignore[arg-type]  # never None
            sort_key=_attribute(spec.range_key),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryption_key=self.key,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            deletion_protection=True,
            removal_policy=RemovalPolicy.RETAIN,
            time_to_live_attribute=spec.ttl_attribute,
        )
        for index in spec.indexes:
            projection, non_key_attributes = _projection(model, index.name)
            table.add_global_secondary_index(
                index_name=index.name,
                partition_key=_attribute(index.hash_key),  # type: ignore[arg-type]  # never None
                sort_key=_attribute(index.range_key),
                projection_type=projection,
                non_key_attributes=non_key_attributes,
            )
        return table
