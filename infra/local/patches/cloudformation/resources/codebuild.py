"""AWS::CodeBuild::Project (moto's CloudFormation lacks it) and AWS::ECR::Repository (moto's model
drops LifecyclePolicy and EmptyOnDelete), built on moto's CodeBuild and ECR backends.

AWS::Logs::LogGroup and AWS::S3::Bucket are moto's own (kept, see moto_fixes)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from infra.local.patches.cloudformation.resources.base import (
    _AppResource,
    _camel,
    _flag,
    _generated_name,
    _ignore_missing,
)


def _codebuild(account_id: str, region_name: str) -> Any:
    from moto.codebuild.models import codebuild_backends

    return codebuild_backends[account_id][region_name]


def _ecr(account_id: str, region_name: str) -> Any:
    from moto.ecr.models import ecr_backends

    return ecr_backends[account_id][region_name]


def _invalid(message: str) -> Exception:
    from moto.cloudformation.exceptions import ValidationError

    return ValidationError(message=message)


def _project_source(source: Mapping[str, Any]) -> dict[str, Any]:
    converted = dict(_camel(dict(source)) or {})
    if "buildSpec" in converted:  # CloudFormation's BuildSpec is the API's buildspec
        converted["buildspec"] = converted.pop("buildSpec")
    return converted


def _environment(environment: Mapping[str, Any]) -> dict[str, Any]:
    converted = dict(_camel(dict(environment)) or {})
    converted["privilegedMode"] = _flag(environment.get("PrivilegedMode"))
    converted["environmentVariables"] = [
        {"name": str(v["Name"]), "value": str(v["Value"]), "type": str(v.get("Type", "PLAINTEXT"))}
        for v in environment.get("EnvironmentVariables") or []
    ]
    return converted


class _CodeBuildProject(_AppResource):
    """AWS::CodeBuild::Project, a real project in moto's CodeBuild backend (its builds run through
    the codebuild patch). Ref: the name; GetAtt Arn. Every change but Name is in place."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        for required in ("Source", "Environment", "ServiceRole", "Artifacts"):
            if not properties.get(required):
                raise _invalid(f"Properties validation failed: required key [{required}] not found")
        environment = properties["Environment"]
        for required in ("ComputeType", "Image", "Type"):
            if not environment.get(required):
                raise _invalid(
                    f"Properties validation failed: required key [{required}] not found in Environment"
                )
        project_name = str(properties.get("Name") or _generated_name(context, "Project"))
        backend = _codebuild(account_id, region_name)
        if project_name in backend.codebuild_projects:
            raise _invalid(f"Project already exists: {project_name}")
        _put_project(backend, project_name, properties)
        arn = backend.codebuild_projects[project_name].arn
        return cls(project_name, account_id, region_name, properties, {"Arn": arn}, project_name)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if properties.get("Name", self.properties.get("Name")) != self.properties.get("Name"):
            return super().update(name, properties)
        backend = _codebuild(self.account_id, self.region_name)
        history = list(backend.build_history.get(self.physical_resource_id, []))
        _put_project(backend, self.physical_resource_id, properties)
        backend.build_history[self.physical_resource_id] = history  # builds survive an update
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = _codebuild(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_project(self.physical_resource_id), self.physical_resource_id)


def _put_project(backend: Any, project_name: str, p: Mapping[str, Any]) -> None:
    logs = p.get("LogsConfig")
    backend.create_project(
        project_name=project_name,
        description=p.get("Description"),
        project_source=_project_source(p["Source"]),
        artifacts=dict(_camel(dict(p["Artifacts"])) or {}),
        environment=_environment(p["Environment"]),
        service_role=str(p["ServiceRole"]),
        tags=[{"key": t["Key"], "value": t["Value"]} for t in p.get("Tags") or []],
        cache=_camel(p.get("Cache")),
        timeout=int(p.get("TimeoutInMinutes") or 60),
        queued_timeout=int(p.get("QueuedTimeoutInMinutes") or 480),
        source_version=p.get("SourceVersion"),
        logs_config=_camel(copy.deepcopy(dict(logs))) if logs else None,
        vpc_config=_camel(p.get("VpcConfig")),
    )
    if p.get("EncryptionKey"):
        backend.codebuild_projects[project_name].project_metadata["encryptionKey"] = str(p["EncryptionKey"])


def _moto_properties(properties: Mapping[str, Any]) -> dict[str, Any]:
    """moto keeps ImageScanningConfiguration and EncryptionConfiguration as given: the API's keys."""
    converted = dict(properties)
    scanning = properties.get("ImageScanningConfiguration")
    if scanning is not None:
        converted["ImageScanningConfiguration"] = {"scanOnPush": _flag(scanning.get("ScanOnPush"))}
    encryption = properties.get("EncryptionConfiguration")
    if encryption is not None:
        converted["EncryptionConfiguration"] = _camel(dict(encryption))
    return converted


class _EcrRepository(_AppResource):
    """AWS::ECR::Repository on moto's ECR backend, with LifecyclePolicy and EmptyOnDelete (a delete
    of a repository holding images fails, as in AWS, unless EmptyOnDelete is true).
    Ref: the name; GetAtt Arn, RepositoryUri."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        from moto.ecr.models import Repository

        repository_name = str(properties.get("RepositoryName") or _generated_name(context, "repo").lower())
        model: Any = Repository  # moto's classmethod does the validation and the tags
        repository = model.create_from_cloudformation_json(
            repository_name, {"Properties": _moto_properties(properties)}, account_id, region_name
        )
        resource = cls(
            repository.name,
            account_id,
            region_name,
            properties,
            {"Arn": repository.arn, "RepositoryUri": repository.uri},
            repository.name,
            target=repository,
        )
        resource._apply_lifecycle(properties)
        return resource

    def _apply_lifecycle(self, properties: Mapping[str, Any]) -> None:
        backend = _ecr(self.account_id, self.region_name)
        policy = (properties.get("LifecyclePolicy") or {}).get("LifecyclePolicyText")
        if policy:
            backend.put_lifecycle_policy(None, self.physical_resource_id, str(policy))
        elif self.target is not None:
            self.target.lifecycle_policy = None

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        from moto.ecr.models import Repository

        old_name = self.properties.get("RepositoryName")
        if properties.get("RepositoryName", old_name) != old_name or properties.get(
            "EncryptionConfiguration"
        ) != self.properties.get("EncryptionConfiguration"):
            return super().update(name, properties)
        model: Any = Repository
        model.update_from_cloudformation_json(
            self.target,
            self.physical_resource_id,
            {"Properties": _moto_properties(properties)},
            self.account_id,
            self.region_name,
        )
        self._apply_lifecycle(properties)
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = _ecr(self.account_id, self.region_name)
        if self.physical_resource_id not in backend.repositories:
            return
        # Not ignored when it still holds images: the stack's delete fails, as in AWS.
        empty_first = _flag(self.properties.get("EmptyOnDelete"))
        backend.delete_repository(self.physical_resource_id, None, force=empty_first)
