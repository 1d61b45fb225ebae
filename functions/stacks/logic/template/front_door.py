"""The stack's front door: a public ALB, or API Gateway in front of an internal one.

``alb``: an internet-facing ALB in the public subnets (HTTP 80, or HTTPS 443 with TLS 1.2+ and
80 -> 443 redirects when a certificate is given), invalid headers dropped, access logs to the logs
bucket, IP target group with the health check path. ``api_gateway``: an HTTP API whose ``$default``
route goes through a VPC link (app subnets) to an **internal** ALB listener. The internal ALB rather
than Cloud Map: the onboarding CloudFormation role grants Elastic Load Balancing but neither Cloud Map
nor Route 53, and the target group's health checks keep the health check path and the circuit breaker
meaningful; it costs an ALB's hourly price. Stage access logs go to a log group.
"""

from __future__ import annotations

import json
from typing import Any, Final

from troposphere import AWSObject, GetAtt, Ref, Sub, apigatewayv2
from troposphere import elasticloadbalancingv2 as elb

from functions.shared.logic.iam import checkov_skips
from functions.stacks.logic.template.context import Context, Network
from functions.stacks.logic.template.logs import log_group

TLS_POLICY: Final = "ELBSecurityPolicy-TLS13-1-2-2021-06"


def _load_balancer(
    ctx: Context, title: str, net: Network, group: AWSObject, *, internal: bool, logs_bucket: AWSObject
) -> tuple[AWSObject, AWSObject]:
    balancer = ctx.add(
        elb.LoadBalancer(
            title,
            DependsOn=["LogsBucketPolicy"],
            Type="application",
            Scheme="internal" if internal else "internet-facing",
            Subnets=net.app if internal else net.public,
            SecurityGroups=[GetAtt(group, "GroupId")],
            LoadBalancerAttributes=[
                elb.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                elb.LoadBalancerAttributes(Key="access_logs.s3.bucket", Value=Ref(logs_bucket)),
                elb.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value="alb"),
                elb.LoadBalancerAttributes(
                    Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
                ),
                elb.LoadBalancerAttributes(Key="routing.http.desync_mitigation_mode", Value="defensive"),
            ],
            Tags=ctx.tags("internal-alb" if internal else "alb"),
        )
    )
    container = ctx.spec.container
    target_group = ctx.add(
        elb.TargetGroup(
            "TargetGroup",
            TargetType="ip",
            Protocol="HTTP",
            Port=container.port,
            VpcId=net.vpc_id,
            HealthCheckProtocol="HTTP",
            HealthCheckPath=container.health_check_path,
            HealthCheckIntervalSeconds=15,
            HealthCheckTimeoutSeconds=5,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=3,
            Matcher=elb.Matcher(HttpCode="200-399"),
            TargetGroupAttributes=[
                elb.TargetGroupAttribute(Key="deregistration_delay.timeout_seconds", Value="30")
            ],
        )
    )
    return balancer, target_group


def public_alb(
    ctx: Context, net: Network, sgs: dict[str, AWSObject], logs_bucket: AWSObject
) -> tuple[AWSObject, AWSObject, Any]:
    balancer, target_group = _load_balancer(
        ctx, "LoadBalancer", net, sgs["alb"], internal=False, logs_bucket=logs_bucket
    )
    forward = [elb.Action(Type="forward", TargetGroupArn=Ref(target_group))]
    if ctx.spec.certificate_arn is None:
        listener = ctx.add(
            elb.Listener(
                "HttpListener",
                LoadBalancerArn=Ref(balancer),
                Port=80,
                Protocol="HTTP",
                DefaultActions=forward,
                Metadata=checkov_skips(
                    (
                        "CKV_AWS_2",
                        "No certificate_arn in the spec: HTTP until the team adds a certificate",
                    ),
                    ("CKV_AWS_103", "No certificate_arn in the spec: no TLS listener to configure"),
                ),
            )
        )
        return target_group, listener, Sub("http://${LoadBalancer.DNSName}")
    listener = ctx.add(
        elb.Listener(
            "HttpsListener",
            LoadBalancerArn=Ref(balancer),
            Port=443,
            Protocol="HTTPS",
            SslPolicy=TLS_POLICY,
            Certificates=[elb.Certificate(CertificateArn=ctx.spec.certificate_arn)],
            DefaultActions=forward,
        )
    )
    ctx.add(
        elb.Listener(
            "HttpRedirectListener",
            LoadBalancerArn=Ref(balancer),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[
                elb.Action(
                    Type="redirect",
                    RedirectConfig=elb.RedirectConfig(Protocol="HTTPS", Port="443", StatusCode="HTTP_301"),
                )
            ],
        )
    )
    return target_group, listener, Sub("https://${LoadBalancer.DNSName}")


def api_gateway(
    ctx: Context, net: Network, sgs: dict[str, AWSObject], logs_bucket: AWSObject
) -> tuple[AWSObject, AWSObject, Any]:
    balancer, target_group = _load_balancer(
        ctx, "InternalLoadBalancer", net, sgs["alb"], internal=True, logs_bucket=logs_bucket
    )
    listener = ctx.add(
        elb.Listener(
            "InternalListener",
            LoadBalancerArn=Ref(balancer),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[elb.Action(Type="forward", TargetGroupArn=Ref(target_group))],
            Metadata=checkov_skips(
                (
                    "CKV_AWS_2",
                    "Internal ALB reachable only from the API's VPC link; API Gateway terminates TLS",
                ),
                ("CKV_AWS_103", "Internal HTTP listener behind API Gateway, which terminates TLS"),
            ),
        )
    )
    link = ctx.add(
        apigatewayv2.VpcLink(
            "VpcLink",
            Name=ctx.name,
            SubnetIds=net.app,
            SecurityGroupIds=[GetAtt(sgs["link"], "GroupId")],
        )
    )
    api = ctx.add(
        apigatewayv2.Api(
            "HttpApi",
            Name=ctx.name,
            ProtocolType="HTTP",
            Description=f"{ctx.name}: public entry point",
        )
    )
    ctx.add(
        apigatewayv2.Integration(
            "HttpApiIntegration",
            ApiId=Ref(api),
            IntegrationType="HTTP_PROXY",
            IntegrationMethod="ANY",
            ConnectionType="VPC_LINK",
            ConnectionId=Ref(link),
            IntegrationUri=Ref(listener),
            PayloadFormatVersion="1.0",
        )
    )
    ctx.add(
        apigatewayv2.Route(
            "HttpApiDefaultRoute",
            ApiId=Ref(api),
            RouteKey="$default",
            Target=Sub("integrations/${HttpApiIntegration}"),
            AuthorizationType="NONE",
        )
    )
    access_logs = log_group(ctx, "ApiAccessLogGroup", "api-access")
    access_format = {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "requestTime": "$context.requestTime",
        "httpMethod": "$context.httpMethod",
        "path": "$context.path",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationStatus": "$context.integrationStatus",
        "integrationLatency": "$context.integrationLatency",
        "integrationError": "$context.integrationErrorMessage",
    }
    ctx.add(
        apigatewayv2.Stage(
            "HttpApiStage",
            ApiId=Ref(api),
            StageName="$default",
            AutoDeploy=True,
            AccessLogSettings=apigatewayv2.AccessLogSettings(
                DestinationArn=GetAtt(access_logs, "Arn"),
                Format=json.dumps(access_format, sort_keys=True, separators=(",", ":")),
            ),
        )
    )
    return target_group, listener, GetAtt(api, "ApiEndpoint")
