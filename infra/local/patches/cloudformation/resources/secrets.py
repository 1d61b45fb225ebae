"""AWS::SecretsManager::Secret (GenerateSecretString) and SecretTargetAttachment, built on moto's
Secrets Manager backend (moto's CloudFormation lacks both)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches.cloudformation.resources.base import (
    _AppResource,
    _flag,
    _generated_name,
    _ignore_missing,
)


def _generated_secret(backend: Any, spec: Mapping[str, Any]) -> str:
    password = json.loads(
        backend.get_random_password(
            password_length=int(spec.get("PasswordLength", 32)),
            exclude_characters=str(spec.get("ExcludeCharacters", "")),
            exclude_numbers=_flag(spec.get("ExcludeNumbers")),
            exclude_punctuation=_flag(spec.get("ExcludePunctuation")),
            exclude_uppercase=_flag(spec.get("ExcludeUppercase")),
            exclude_lowercase=_flag(spec.get("ExcludeLowercase")),
            include_space=_flag(spec.get("IncludeSpace")),
            require_each_included_type=_flag(spec.get("RequireEachIncludedType"), default=True),
        )
    )["RandomPassword"]
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template and key:
        document = json.loads(str(template))
        document[str(key)] = password
        return json.dumps(document)
    return str(password)


class _Secret(_AppResource):
    """AWS::SecretsManager::Secret, a real secret (GenerateSecretString generates its value)."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        backend = backends.secretsmanager(account_id, region_name)
        secret_name = str(properties.get("Name") or _generated_name(context, "Secret"))
        value = properties.get("SecretString")
        if value is None and properties.get("GenerateSecretString") is not None:
            value = _generated_secret(backend, properties["GenerateSecretString"])
        created = json.loads(
            backend.create_secret(
                name=secret_name,
                secret_string=value,
                secret_binary=None,
                description=properties.get("Description"),
                tags=properties.get("Tags"),
                kms_key_id=properties.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
        )
        return cls(created["ARN"], account_id, region_name, properties, {"Id": created["ARN"]}, secret_name)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if properties.get("Name", self.properties.get("Name")) != self.properties.get("Name"):
            return super().update(name, properties)
        backend = backends.secretsmanager(self.account_id, self.region_name)
        changed_value = properties.get("SecretString") != self.properties.get("SecretString")
        changed_spec = properties.get("GenerateSecretString") != self.properties.get("GenerateSecretString")
        value = None
        if changed_value and properties.get("SecretString") is not None:
            value = properties["SecretString"]
        elif changed_spec and properties.get("GenerateSecretString") is not None:
            value = _generated_secret(backend, properties["GenerateSecretString"])
        backend.update_secret(
            self.physical_resource_id,
            secret_string=value,
            kms_key_id=properties.get("KmsKeyId"),
            description=properties.get("Description"),
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = backends.secretsmanager(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_secret(self.physical_resource_id, None, True), self.name or "")


class _SecretTargetAttachment(_AppResource):
    """AWS::SecretsManager::SecretTargetAttachment: adds engine, host, port, dbname and
    dbInstanceIdentifier (or dbClusterIdentifier) of the database to the secret's JSON."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        backend = backends.secretsmanager(account_id, region_name)
        secret_id = str(properties["SecretId"])
        current = backend.get_secret_value(secret_id, None, None)
        document = json.loads(current.get("SecretString") or "{}")
        document.update(
            _connection_details(
                str(properties["TargetId"]), str(properties.get("TargetType")), account_id, region_name
            )
        )
        backend.put_secret_value(secret_id, json.dumps(document), None, None, ["AWSCURRENT"])
        return cls(str(current["ARN"]), account_id, region_name, properties)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        return type(self).create(name, properties, self.account_id, self.region_name, {})


def _connection_details(
    target_id: str, target_type: str, account_id: str, region_name: str
) -> dict[str, Any]:
    rds = backends.rds(account_id, region_name)
    if target_type == "AWS::RDS::DBInstance":
        db = rds.describe_db_instances(target_id)[0]
        details = {
            "engine": db.engine,
            "host": db.address,
            "port": int(db.port),
            "dbInstanceIdentifier": db.db_instance_identifier,
        }
        if db.db_name:
            details["dbname"] = db.db_name
        return details
    if target_type == "AWS::RDS::DBCluster":
        cluster = rds.describe_db_clusters(target_id)[0]
        return {
            "engine": cluster.engine,
            "host": cluster.endpoint,
            "port": int(cluster.port),
            "dbClusterIdentifier": cluster.db_cluster_identifier,
        }
    return {}
