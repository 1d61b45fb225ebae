"""Fixes to moto's own models: properties moto requires but AWS does not (`_BEFORE_CREATE`),
properties moto ignores (`_AFTER_CREATE`), in-place updates moto lacks (`_IN_PLACE_UPDATERS`),
deletes moto lacks (`_DELETERS`), and a role's trust policy on update."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _call_original, _replace
from infra.local.patches.cloudformation.resources.base import _flag, _ignore_missing, _partition


def _fix_subnet(subnet: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    if "MapPublicIpOnLaunch" in p:
        subnet.map_public_ip_on_launch = _flag(p["MapPublicIpOnLaunch"])


def _fix_security_group(group: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    """Inline SecurityGroupEgress replaces the default allow-all rule (moto ignores it)."""
    rules = p.get("SecurityGroupEgress")
    if rules is None:
        return
    ec2 = backends.ec2(account_id, region_name)
    _ignore_missing(
        lambda: ec2.revoke_security_group_egress(
            group.id, "-1", None, None, [{"CidrIp": "0.0.0.0/0"}], vpc_id=group.vpc_id
        ),
        f"default egress of {group.id}",
    )
    for rule in rules:
        destination = rule.get("DestinationSecurityGroupId")
        ec2.authorize_security_group_egress(
            group.id,
            str(rule.get("IpProtocol")),
            rule.get("FromPort"),
            rule.get("ToPort"),
            [{"CidrIp": rule["CidrIp"], "Description": rule.get("Description", "")}]
            if rule.get("CidrIp")
            else [],
            source_groups=[{"GroupId": destination}] if destination else [],
            vpc_id=group.vpc_id,
        )


def _fix_role(role: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    """PermissionsBoundary (moto ignores it)."""
    boundary = p.get("PermissionsBoundary")
    if boundary:
        backends.iam(account_id, _partition(region_name)).put_role_permissions_boundary(
            role.name, str(boundary)
        )


def _fix_log_group(group: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    if p.get("KmsKeyId"):
        group.kms_key_id = p["KmsKeyId"]


def _fix_bucket(bucket: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    status = (p.get("VersioningConfiguration") or {}).get("Status")
    if status:
        backends.s3(account_id).put_bucket_versioning(bucket.name, status)


def _default_key_policy(p: dict[str, Any], account_id: str, region_name: str) -> None:
    """KeyPolicy is optional (AWS applies the default key policy); moto requires it."""
    p.setdefault(
        "KeyPolicy",
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{_partition(region_name)}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
    )


# Properties moto requires but AWS does not (filled in before moto sees them).
_BEFORE_CREATE: dict[str, Callable[[dict[str, Any], str, str], None]] = {
    "AWS::KMS::Key": _default_key_policy,
}


_AFTER_CREATE: dict[str, Callable[[Any, Mapping[str, Any], str, str], None]] = {
    "AWS::EC2::Subnet": _fix_subnet,
    "AWS::EC2::SecurityGroup": _fix_security_group,
    "AWS::IAM::Role": _fix_role,
    "AWS::Logs::LogGroup": _fix_log_group,
    "AWS::S3::Bucket": _fix_bucket,
}


def _update_log_group(group: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    backend = backends.logs(account_id, region_name)
    if p.get("RetentionInDays") is not None:
        backend.put_retention_policy(group.name, int(p["RetentionInDays"]))
    else:
        backend.delete_retention_policy(group.name)
    group.kms_key_id = p.get("KmsKeyId")


def _update_target_group(group: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    """The health check (AWS updates it without interruption). Port, Protocol, TargetType and VpcId
    would replace the group in AWS; here they are not applied."""

    def number(key: str) -> int | None:
        return None if p.get(key) is None else int(p[key])

    backends.elbv2(account_id, region_name).modify_target_group(
        group.arn,
        health_check_proto=p.get("HealthCheckProtocol"),
        health_check_port=None if p.get("HealthCheckPort") is None else str(p["HealthCheckPort"]),
        health_check_path=p.get("HealthCheckPath"),
        health_check_interval=number("HealthCheckIntervalSeconds"),
        health_check_timeout=number("HealthCheckTimeoutSeconds"),
        healthy_threshold_count=None
        if p.get("HealthyThresholdCount") is None
        else str(p["HealthyThresholdCount"]),
        unhealthy_threshold_count=None
        if p.get("UnhealthyThresholdCount") is None
        else str(p["UnhealthyThresholdCount"]),
        http_codes=(p.get("Matcher") or {}).get("HttpCode"),
        health_check_enabled=None if p.get("HealthCheckEnabled") is None else _flag(p["HealthCheckEnabled"]),
    )


# In-place updates of moto types whose update moto lacks.
_IN_PLACE_UPDATERS: dict[str, Callable[[Any, Mapping[str, Any], str, str], None]] = {
    "AWS::Logs::LogGroup": _update_log_group,
    "AWS::EC2::Subnet": _fix_subnet,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _update_target_group,
}


def _delete_route(route: Any, account_id: str, region_name: str) -> None:
    prefix_list = route.destination_prefix_list
    backends.ec2(account_id, region_name).delete_route(
        route.route_table.id,
        route.destination_cidr_block,
        route.destination_ipv6_cidr_block,
        prefix_list.id if prefix_list else None,
    )


def _detach_gateway(attachment: Any, account_id: str, region_name: str) -> None:
    ec2 = backends.ec2(account_id, region_name)
    if str(attachment.gateway_id).startswith("vgw-"):
        ec2.detach_vpn_gateway(attachment.gateway_id, attachment.vpc_id)
    else:
        ec2.detach_internet_gateway(attachment.gateway_id, attachment.vpc_id)


def _revoke_ingress(ingress: Any, account_id: str, region_name: str) -> None:
    p = ingress.properties
    source: dict[str, Any] = {}
    if p.get("SourceSecurityGroupId"):
        source["GroupId"] = p["SourceSecurityGroupId"]
    if p.get("SourceSecurityGroupName"):
        source["GroupName"] = p["SourceSecurityGroupName"]
    backends.ec2(account_id, region_name).revoke_security_group_ingress(
        ingress.security_group.id,
        p.get("IpProtocol"),
        p.get("FromPort"),
        p.get("ToPort"),
        [{"CidrIp": p["CidrIp"], "Description": p.get("Description")}] if p.get("CidrIp") else [],
        source_groups=[source] if source else [],
    )


def _delete_auto_scaling_group(group: Any, account_id: str, region_name: str) -> None:
    """Terminates its instances too (moto leaves them running, which keeps their subnets busy)."""
    instance_ids = [state.instance.id for state in group.instance_states]
    if instance_ids:
        backends.ec2(account_id, region_name).terminate_instances(instance_ids)
    backends.autoscaling(account_id, region_name).delete_auto_scaling_group(group.name)


# Deletes moto lacks (its CloudFormation silently leaves these behind).
_DELETERS: dict[str, Callable[[Any, str, str], None]] = {
    "AWS::EC2::InternetGateway": lambda r, a, g: backends.ec2(a, g).delete_internet_gateway(r.id),
    "AWS::EC2::VPCEndpoint": lambda r, a, g: backends.ec2(a, g).delete_vpc_endpoints([r.id]),
    "AWS::EC2::VPCGatewayAttachment": _detach_gateway,
    "AWS::EC2::RouteTable": lambda r, a, g: backends.ec2(a, g).delete_route_table(r.id),
    "AWS::EC2::Route": _delete_route,
    "AWS::EC2::SecurityGroupIngress": _revoke_ingress,
    "AWS::AutoScaling::AutoScalingGroup": _delete_auto_scaling_group,
    "AWS::ElasticLoadBalancingV2::TargetGroup": lambda r, a, g: backends.elbv2(a, g).delete_target_group(
        r.arn
    ),
    "AWS::ElasticLoadBalancingV2::Listener": lambda r, a, g: _ignore_missing(
        lambda: backends.elbv2(a, g).delete_listener(r.arn), r.arn
    ),
}


def _role_update(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    """moto updates only a role's description on UpdateStack; AWS also applies a changed trust policy
    (which is what re-verification after an update must see)."""
    from moto.iam.models import Role

    role = _call_original(
        Role,
        "update_from_cloudformation_json",
        cls,
        original_resource,
        new_resource_name,
        cloudformation_json,
        account_id,
        region_name,
    )
    trust = cloudformation_json.get("Properties", {}).get("AssumeRolePolicyDocument")
    if trust is not None:
        document = trust if isinstance(trust, str) else json.dumps(trust)
        backends.iam(account_id, "global").update_assume_role_policy(role.name, document)
    return role


def patch() -> None:
    from moto.iam.models import Role as IamRole

    _replace(
        IamRole,
        "update_from_cloudformation_json",
        classmethod(_role_update),
        "cloudformation role trust update",
    )
