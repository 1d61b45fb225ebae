"""ApplicationAutoScaling ScalableTarget and ScalingPolicy, registered on moto's Application Auto
Scaling backend (moto's CloudFormation lacks them): DescribeScalableTargets and
DescribeScalingPolicies show what the stack created, and a delete deregisters it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches.cloudformation.resources.base import _AppResource, _ignore_missing


def _target_key(properties: Mapping[str, Any]) -> tuple[str, str, str]:
    return (
        str(properties["ServiceNamespace"]),
        str(properties["ResourceId"]),
        str(properties["ScalableDimension"]),
    )


class _ScalableTarget(_AppResource):
    """Physical id "<resource id>|<dimension>|<namespace>", as CloudFormation's."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        namespace, resource_id, dimension = _target_key(properties)
        target = backends.application_autoscaling(account_id, region_name).register_scalable_target(
            namespace,
            resource_id,
            dimension,
            None if properties.get("MinCapacity") is None else int(properties["MinCapacity"]),
            None if properties.get("MaxCapacity") is None else int(properties["MaxCapacity"]),
            properties.get("RoleARN"),
            properties.get("SuspendedState"),
        )
        physical_id = f"{resource_id}|{dimension}|{namespace}"
        return cls(physical_id, account_id, region_name, properties, {"Id": physical_id}, None, target)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if _target_key(properties) != _target_key(self.properties):
            return super().update(name, properties)
        return type(self).create(name, properties, self.account_id, self.region_name, {})

    def remove(self) -> None:
        backend = backends.application_autoscaling(self.account_id, self.region_name)
        _ignore_missing(
            lambda: backend.deregister_scalable_target(*_target_key(self.properties)),
            self.physical_resource_id,
        )


def _policy_key(properties: Mapping[str, Any]) -> tuple[str, str, str, str]:
    target = str(properties.get("ScalingTargetId") or "").split("|")
    resource_id = str(properties.get("ResourceId") or target[0])
    dimension = str(properties.get("ScalableDimension") or (target[1] if len(target) > 1 else ""))
    namespace = str(properties.get("ServiceNamespace") or (target[2] if len(target) > 2 else "ecs"))
    return str(properties["PolicyName"]), namespace, resource_id, dimension


class _ScalingPolicy(_AppResource):
    """Physical id and Arn: the policy's ARN, as CloudFormation's."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        policy_name, namespace, resource_id, dimension = _policy_key(properties)
        body = {
            key: properties[key]
            for key in ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration")
            if key in properties
        }
        policy = backends.application_autoscaling(account_id, region_name).put_scaling_policy(
            policy_name, namespace, resource_id, dimension, body, properties.get("PolicyType")
        )
        arn = policy.policy_arn
        return cls(arn, account_id, region_name, properties, {"Arn": arn}, policy_name, policy)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if _policy_key(properties) != _policy_key(self.properties):
            return super().update(name, properties)
        updated = type(self).create(name, properties, self.account_id, self.region_name, {})
        self.properties, self.target = dict(properties), updated.target
        return self

    def remove(self) -> None:
        backend = backends.application_autoscaling(self.account_id, self.region_name)
        _ignore_missing(
            lambda: backend.delete_scaling_policy(*_policy_key(self.properties)), self.physical_resource_id
        )
