"""Building one resource: which class a type gets (the patches' adapters first, then moto's model,
else a recorded resource), dynamic references, the fixes before and after moto's create, and the
signature that tells an update whether anything changed."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from infra.local.patches._machinery import _replace
from infra.local.patches.cloudformation._common import CUSTOM_RESOURCE_TYPE, _is_custom_type
from infra.local.patches.cloudformation.resources.apigateway import (
    _HttpApi,
    _Integration,
    _Route,
    _Stage,
    _VpcLink,
)
from infra.local.patches.cloudformation.resources.application_autoscaling import (
    _ScalableTarget,
    _ScalingPolicy,
)
from infra.local.patches.cloudformation.resources.base import _AppResource, _short_id
from infra.local.patches.cloudformation.resources.codebuild import _CodeBuildProject, _EcrRepository
from infra.local.patches.cloudformation.resources.dynamic_references import _resolve_dynamic_references
from infra.local.patches.cloudformation.resources.ecs import (
    _EcsCapacityProvider,
    _EcsCluster,
    _EcsClusterCapacityProviders,
    _EcsService,
    _EcsTaskDefinition,
)
from infra.local.patches.cloudformation.resources.moto_fixes import _AFTER_CREATE, _BEFORE_CREATE
from infra.local.patches.cloudformation.resources.rds import _DbInstance, _DbSubnetGroup
from infra.local.patches.cloudformation.resources.recorded import _RecordedResource
from infra.local.patches.cloudformation.resources.s3_ec2 import _BucketPolicy, _SubnetRouteTableAssociation
from infra.local.patches.cloudformation.resources.secrets import _Secret, _SecretTargetAttachment

LOG = logging.getLogger(__name__)

_ADAPTERS: dict[str, type[_AppResource]] = {
    "AWS::SecretsManager::Secret": _Secret,
    "AWS::SecretsManager::SecretTargetAttachment": _SecretTargetAttachment,
    "AWS::ECS::Cluster": _EcsCluster,
    "AWS::ECS::CapacityProvider": _EcsCapacityProvider,
    "AWS::ECS::ClusterCapacityProviderAssociations": _EcsClusterCapacityProviders,
    "AWS::ECS::TaskDefinition": _EcsTaskDefinition,
    "AWS::ECS::Service": _EcsService,
    "AWS::RDS::DBSubnetGroup": _DbSubnetGroup,
    "AWS::RDS::DBInstance": _DbInstance,
    "AWS::S3::BucketPolicy": _BucketPolicy,
    "AWS::EC2::SubnetRouteTableAssociation": _SubnetRouteTableAssociation,
    "AWS::ApiGatewayV2::Api": _HttpApi,
    "AWS::ApiGatewayV2::VpcLink": _VpcLink,
    "AWS::ApiGatewayV2::Integration": _Integration,
    "AWS::ApiGatewayV2::Route": _Route,
    "AWS::ApiGatewayV2::Stage": _Stage,
    "AWS::ApplicationAutoScaling::ScalableTarget": _ScalableTarget,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _ScalingPolicy,
    "AWS::CodeBuild::Project": _CodeBuildProject,
    "AWS::ECR::Repository": _EcrRepository,
}


def _signature(cleaned: Mapping[str, Any]) -> str:
    """Resolved properties, comparable across operations (moto objects by their physical id)."""

    def default(value: Any) -> str:
        return str(getattr(value, "physical_resource_id", None) or f"<{type(value).__name__}>")

    return json.dumps(cleaned.get("Properties") or {}, sort_keys=True, default=default)


_GENERATED_PHYSICAL_IDS = {"AWS::EC2::SecurityGroupIngress": "sgr-", "AWS::EC2::SecurityGroupEgress": "sgr-"}


def _mark(resource: Any, resource_type: str, logical_id: str, signature: str) -> None:
    try:
        resource.cf_resource_type = resource_type
        resource.logical_resource_id = logical_id
        resource.stackpilot_signature = signature
        if getattr(resource, "physical_resource_id", None) is None:  # e.g. moto's SecurityGroupIngress
            prefix = _GENERATED_PHYSICAL_IDS.get(resource_type, f"{logical_id}-")
            resource.physical_resource_id = prefix + _short_id(17)
    except AttributeError:
        LOG.debug("cannot annotate %s", logical_id)


def _create_resource(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    """parsing.parse_and_create_resource, plus dynamic references and the post-create fixes."""
    from moto.cloudformation import parsing

    resource_type = str(resource_json["Type"])
    parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources_map)
    if not parsed:
        return None
    resource_class, cleaned, name = parsed
    if not _is_custom_type(resource_type):
        cleaned = _resolve_dynamic_references(cleaned, account_id, region_name)
        name = _resolve_dynamic_references(name, account_id, region_name)  # moto took it from a property
    prepare = _BEFORE_CREATE.get(resource_type)
    if prepare is not None:
        prepare(cleaned.setdefault("Properties", {}), account_id, region_name)
    signature = _signature(cleaned)
    resource = resource_class.create_from_cloudformation_json(
        name,
        cleaned,
        account_id,
        region_name,
        LogicalId=logical_id,
        StackId=resources_map.stack_id,
        ResourceType=resource_type,
    )
    _mark(resource, resource_type, logical_id, signature)
    _after_create(resource_type, resource, cleaned, account_id, region_name)
    return resource


def _after_create(
    resource_type: str, resource: Any, cleaned: Mapping[str, Any], account_id: str, region_name: str
) -> None:
    fix = _AFTER_CREATE.get(resource_type)
    if fix is not None:
        fix(resource, cleaned.get("Properties") or {}, account_id, region_name)


def _resource_class_from_type(resource_type: str) -> Any:
    """parsing.resource_class_from_type: the patches' classes first, a recorded resource for any
    type moto does not know (moto returns None: skipped, and a Ref to it breaks dependents)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.custom_model import CustomModel

    if resource_type == CUSTOM_RESOURCE_TYPE or resource_type.startswith("Custom::"):
        return CustomModel
    if resource_type in _ADAPTERS:
        return _ADAPTERS[resource_type]
    model_map = parsing.get_model_map()
    if resource_type in model_map:
        return model_map[resource_type]
    return _RecordedResource


def patch() -> None:
    from moto.cloudformation import parsing

    _replace(parsing, "resource_class_from_type", _resource_class_from_type, "cloudformation resource types")
