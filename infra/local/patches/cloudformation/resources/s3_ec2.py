"""S3 BucketPolicy and EC2 SubnetRouteTableAssociation (moto's records the association without
associating)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches.cloudformation.resources.base import _AppResource, _ignore_missing


class _BucketPolicy(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        bucket = str(properties["Bucket"])
        document = properties.get("PolicyDocument")
        text = document if isinstance(document, str) else json.dumps(document)
        backends.s3(account_id).put_bucket_policy(bucket, text.encode())
        return cls(bucket, account_id, region_name, properties, {}, bucket)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties["Bucket"]) != self.name:
            return super().update(name, properties)
        return type(self).create(name, properties, self.account_id, self.region_name, {})

    def remove(self) -> None:
        backend = backends.s3(self.account_id)
        _ignore_missing(lambda: backend.delete_bucket_policy(self.name), f"policy of {self.name}")


class _SubnetRouteTableAssociation(_AppResource):
    """moto's version records the association without associating (DescribeRouteTables shows none)."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        association_id = backends.ec2(account_id, region_name).associate_route_table(
            route_table_id=str(properties["RouteTableId"]), subnet_id=str(properties["SubnetId"])
        )
        return cls(association_id, account_id, region_name, properties, {"Id": association_id})

    def remove(self) -> None:
        backend = backends.ec2(self.account_id, self.region_name)
        _ignore_missing(
            lambda: backend.disassociate_route_table(self.physical_resource_id), self.physical_resource_id
        )
