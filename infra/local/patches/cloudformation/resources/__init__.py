"""6. CloudFormation resources: order, dynamic references, and the types moto lacks or gets wrong.

What moto 5.2.5's CloudFormation does with an application stack's types, and what is patched:
 - created by moto and kept: EC2 VPC, Subnet (+MapPublicIpOnLaunch), InternetGateway,
   VPCGatewayAttachment, RouteTable, Route, SecurityGroup (+inline egress), SecurityGroupIngress,
   VPCEndpoint, LaunchTemplate, Instance (+GetAtt PrimaryNetworkInterfaceId/VpcId/SubnetId),
   AutoScalingGroup, IAM Role (+PermissionsBoundary)/InstanceProfile/Policy, ELBv2 LoadBalancer/
   TargetGroup/Listener, S3 Bucket (+VersioningConfiguration), Logs LogGroup (+KmsKeyId, retention
   updates), KMS Key/Alias; deletes moto lacks are added (moto_fixes._DELETERS);
 - created by the patches on moto's backends (moto drops most properties, or lacks the type):
   ECS Cluster/CapacityProvider/ClusterCapacityProviderAssociations/TaskDefinition/Service (ecs),
   RDS DBSubnetGroup/DBInstance (rds), SecretsManager Secret (GenerateSecretString)/
   SecretTargetAttachment (secrets), S3 BucketPolicy and EC2 SubnetRouteTableAssociation (s3_ec2),
   ApiGatewayV2 Api/VpcLink/Integration/Route/Stage (apigateway), ApplicationAutoScaling
   ScalableTarget/ScalingPolicy (application_autoscaling);
 - recorded only (plausible physical id and attributes, CREATE_COMPLETE, no backend object):
   every other type moto does not know, e.g. ServiceDiscovery PrivateDnsNamespace/Service,
   WaitCondition(Handle) (recorded).
"""

from __future__ import annotations

from infra.local.patches.cloudformation.resources import (
    building,
    dynamic_references,
    instances,
    moto_fixes,
    ordering,
)


def patch() -> None:
    building.patch()
    ordering.patch()
    dynamic_references.patch()
    instances.patch()
    moto_fixes.patch()
