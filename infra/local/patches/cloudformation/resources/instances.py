"""EC2 instances from CloudFormation: launch templates, SecurityGroupIds, SourceDestCheck, the
template's instance profile and tags, a root volume, and the attributes moto's GetAtt lacks."""

from __future__ import annotations

from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _call_original, _replace
from infra.local.patches.cloudformation.resources.base import _flag


def _instance_create(
    cls: Any,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    """ec2 Instance.create_from_cloudformation_json: moto's raises KeyError('ImageId') on a
    LaunchTemplate, ignores SecurityGroupIds, SourceDestCheck and the template's instance profile
    and tags, and launches without a root volume."""
    ec2 = backends.ec2(account_id, region_name)
    p = cloudformation_json["Properties"]
    extra: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if p.get("LaunchTemplate"):
        spec = {
            k: str(v)
            for k, v in p["LaunchTemplate"].items()
            if k in ("LaunchTemplateId", "LaunchTemplateName", "Version")
        }
        data = dict(ec2._get_template_from_args(spec).data)
        extra["launch_template"] = spec
    if p.get("BlockDeviceMappings") or data.get("BlockDeviceMappings"):  # they replace the AMI's root
        extra["block_device_mappings"] = p.get("BlockDeviceMappings") or data["BlockDeviceMappings"]
    reservation = ec2.run_instances(
        image_id=p.get("ImageId") or data.get("ImageId"),
        user_data=p.get("UserData"),
        count=1,
        security_group_names=[ec2.get_security_group_from_id(g).name for g in p.get("SecurityGroups", [])],
        instance_type=p.get("InstanceType") or "m1.small",
        is_instance_type_default=not p.get("InstanceType"),
        subnet_id=p.get("SubnetId"),
        key_name=p.get("KeyName"),
        private_ip=p.get("PrivateIpAddress"),
        security_group_ids=list(p.get("SecurityGroupIds") or []),
        **extra,
    )
    instance = reservation.instances[0]
    tags = [
        tag
        for spec in data.get("TagSpecifications") or []
        if spec.get("ResourceType") == "instance"
        for tag in spec.get("Tags") or []
    ]
    for tag in [*tags, *(p.get("Tags") or [])]:
        instance.add_tag(tag["Key"], tag["Value"])
    if "SourceDestCheck" in p:
        instance.source_dest_check = _flag(p["SourceDestCheck"])
    profile = p.get("IamInstanceProfile")
    template_profile = data.get("IamInstanceProfile") or {}
    if profile or template_profile:
        ec2.associate_iam_instance_profile(
            instance_id=instance.id,
            iam_instance_profile_name=profile or template_profile.get("Name"),
            iam_instance_profile_arn=None if profile else template_profile.get("Arn"),
        )
    return instance


def _instance_add_block_device(
    self: Any,
    size: int | None,
    device_path: str,
    snapshot_id: str | None,
    encrypted: bool,
    delete_on_termination: bool,
    kms_key_id: str | None,
    volume_type: str | None,
) -> None:
    """ec2 Instance.add_block_device: an Ebs mapping with neither VolumeSize nor SnapshotId takes the
    AMI's snapshot size in AWS (moto raises MissingParameter size/snapshot); 8 GiB here."""
    from moto.ec2.models.instances import Instance

    if size is None and not snapshot_id:
        size = 8
    _call_original(
        Instance,
        "add_block_device",
        self,
        size,
        device_path,
        snapshot_id,
        encrypted,
        delete_on_termination,
        kms_key_id,
        volume_type,
    )


_INSTANCE_ATTRIBUTES = {
    "PrimaryNetworkInterfaceId": lambda i: i.nics[0].id if i.nics else None,
    "VpcId": lambda i: i.vpc_id,
    "SubnetId": lambda i: i.subnet_id,
    "InstanceId": lambda i: i.id,
    "PrivateDnsName": lambda i: i.private_dns_name,
}


def _instance_get_cfn_attribute(self: Any, attribute_name: str) -> Any:
    """ec2 Instance.get_cfn_attribute + PrimaryNetworkInterfaceId, VpcId, SubnetId, InstanceId."""
    from moto.ec2.models.instances import Instance

    if attribute_name in _INSTANCE_ATTRIBUTES:
        return _INSTANCE_ATTRIBUTES[attribute_name](self)
    return _call_original(Instance, "get_cfn_attribute", self, attribute_name)


def patch() -> None:
    from moto.ec2.models.instances import Instance

    _replace(Instance, "get_cfn_attribute", _instance_get_cfn_attribute, "cloudformation instance attributes")
    _replace(
        Instance, "create_from_cloudformation_json", classmethod(_instance_create), "cloudformation instance"
    )
    _replace(Instance, "add_block_device", _instance_add_block_device, "ec2 root volume size")
