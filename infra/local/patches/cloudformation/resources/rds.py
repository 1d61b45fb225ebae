"""RDS DBSubnetGroup and DBInstance on moto's RDS backend: the subnet group by name,
VPCSecurityGroups, the engine's default port, DeletionProtection, DeletionPolicy Snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches.cloudformation.resources.base import _AppResource, _flag, _ignore_missing, _short_id


class _DbSubnetGroup(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        group_name = str(properties.get("DBSubnetGroupName") or name).lower()
        subnets = [
            backends.ec2(account_id, region_name).get_subnet(i) for i in properties.get("SubnetIds") or []
        ]
        group = backends.rds(account_id, region_name).create_subnet_group(
            group_name,
            str(properties.get("DBSubnetGroupDescription", "")),
            subnets,
            properties.get("Tags") or [],
        )
        return cls(group.name, account_id, region_name, properties, {}, group.name, group)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties.get("DBSubnetGroupName") or self.name).lower() != self.name:
            return super().update(name, properties)
        subnets = [
            backends.ec2(self.account_id, self.region_name).get_subnet(i)
            for i in properties.get("SubnetIds") or []
        ]
        self.target = backends.rds(self.account_id, self.region_name).modify_db_subnet_group(
            self.name, str(properties.get("DBSubnetGroupDescription", "")), subnets
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = backends.rds(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_subnet_group(self.name), f"subnet group {self.name}")


_ENGINE_PORTS = {"postgres": 5432, "aurora-postgresql": 5432, "oracle": 1521, "sqlserver": 1433, "db2": 50000}


def _db_kwargs(p: Mapping[str, Any]) -> dict[str, Any]:
    engine = str(p.get("Engine") or "")
    default_port = next((port for prefix, port in _ENGINE_PORTS.items() if engine.startswith(prefix)), 3306)
    kwargs = {
        "engine": engine or None,
        "engine_version": p.get("EngineVersion"),
        "db_instance_class": p.get("DBInstanceClass"),
        "allocated_storage": None if p.get("AllocatedStorage") is None else int(p["AllocatedStorage"]),
        "storage_type": p.get("StorageType"),
        "iops": None if p.get("Iops") is None else int(p["Iops"]),
        "db_name": p.get("DBName"),
        "master_username": p.get("MasterUsername"),
        "master_user_password": p.get("MasterUserPassword"),
        "db_subnet_group_name": None
        if p.get("DBSubnetGroupName") is None
        else str(p["DBSubnetGroupName"]).lower(),
        "vpc_security_group_ids": list(p.get("VPCSecurityGroups") or []),
        "db_security_groups": [],
        "port": int(p.get("Port") or default_port),
        "multi_az": _flag(p.get("MultiAZ")),
        "publicly_accessible": _flag(p.get("PubliclyAccessible")),
        "storage_encrypted": _flag(p.get("StorageEncrypted")),
        "kms_key_id": p.get("KmsKeyId"),
        "backup_retention_period": None
        if p.get("BackupRetentionPeriod") is None
        else int(p["BackupRetentionPeriod"]),
        "preferred_backup_window": p.get("PreferredBackupWindow"),
        "preferred_maintenance_window": None
        if p.get("PreferredMaintenanceWindow") is None
        else str(p["PreferredMaintenanceWindow"]).lower(),
        "auto_minor_version_upgrade": p.get("AutoMinorVersionUpgrade"),
        "copy_tags_to_snapshot": p.get("CopyTagsToSnapshot"),
        "deletion_protection": _flag(p.get("DeletionProtection")),
        "db_parameter_group_name": p.get("DBParameterGroupName"),
        "availability_zone": p.get("AvailabilityZone"),
        "enable_iam_database_authentication": p.get("EnableIAMDatabaseAuthentication"),
        "tags": p.get("Tags") or [],
    }
    return {key: value for key, value in kwargs.items() if value is not None}


class _DbInstance(_AppResource):
    """AWS::RDS::DBInstance with what moto's CloudFormation drops: the subnet group by name,
    VPCSecurityGroups, the engine's default port, DeletionProtection."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        identifier = str(properties.get("DBInstanceIdentifier") or name).replace("_", "-").lower()
        database = backends.rds(account_id, region_name).create_db_instance(
            {"db_instance_identifier": identifier, **_db_kwargs(properties)}
        )
        return cls(
            identifier,
            account_id,
            region_name,
            properties,
            {"DBInstanceArn": database.db_instance_arn},
            identifier,
            database,
        )

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        explicit = properties.get("DBInstanceIdentifier")
        if (explicit and str(explicit).lower() != self.name) or properties.get(
            "Engine"
        ) != self.properties.get("Engine"):
            return super().update(name, properties)
        wanted, current = _db_kwargs(properties), _db_kwargs(self.properties)
        changes = {key: value for key, value in wanted.items() if current.get(key) != value and key != "tags"}
        changes.pop("db_subnet_group_name", None)
        if changes:
            self.target = backends.rds(self.account_id, self.region_name).modify_db_instance(
                self.name, changes
            )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        """DeletionPolicy Snapshot takes a final snapshot; DeletionProtection refuses (as in AWS)."""
        from moto.rds.exceptions import InvalidParameterCombination

        backend = backends.rds(self.account_id, self.region_name)
        if backend.describe_db_instances(self.name)[0].deletion_protection:  # before any final snapshot
            raise InvalidParameterCombination(
                "Cannot delete protected DB Instance, please disable deletion protection and try again."
            )
        if getattr(self, "deletion_policy", None) == "Snapshot":
            backend.delete_db_instance(self.name, f"{self.name}-snapshot-{_short_id(8)}", False)
        else:
            backend.delete_db_instance(self.name, None, True)
