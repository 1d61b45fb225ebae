"""The REST API: one Lambda-proxy method per ``RouteDef``, behind the tenancy authorizer.

The authorizer is a REQUEST authorizer on the Authorization header with caching off: a member's
role change or a revoked key takes effect on the very next request. Access logs are JSON, in an
encrypted log group; the stage has explicit throttling and X-Ray.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs import nag
from infra.constructs.service_function import LOG_RETENTION, Platform, ServiceFunction
from infra.definitions import RouteDef, function

AUTHORIZER_FUNCTION = "tenancy-authorizer"
DEFAULT_RATE_LIMIT = 50  # requests per second, steady
DEFAULT_BURST_LIMIT = 100

_ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "extendedRequestId": "$context.extendedRequestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "resourcePath": "$context.resourcePath",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "principalId": "$context.authorizer.principalId",
    "authorizerError": "$context.authorizer.error",
    "authorizerLatency": "$context.authorizer.latency",
    "integrationError": "$context.integration.error",
    "integrationLatency": "$context.integration.latency",
    "xrayTraceId": "$context.xrayTraceId",
}


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        platform: Platform,
        routes: Sequence[RouteDef],
        functions: Mapping[str, ServiceFunction],
        rate_limit: int = DEFAULT_RATE_LIMIT,
        burst_limit: int = DEFAULT_BURST_LIMIT,
    ) -> None:
        super().__init__(scope, construct_id)
        names = platform.names
        authorizer_definition = function(AUTHORIZER_FUNCTION)
        self.authorizer_function = ServiceFunction(
            self, authorizer_definition.construct_id, definition=authorizer_definition, platform=platform
        )
        self.functions = {AUTHORIZER_FUNCTION: self.authorizer_function}

        access_logs = logs.LogGroup(
            self,
            "AccessLogs",
            retention=LOG_RETENTION,
            encryption_key=platform.encryption_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        account_settings = self._cloudwatch_role()
        self.rest_api = apigw.RestApi(
            self,
            "RestApi",
            rest_api_name=f"{names.prefix}-api",
            description="stackpilot control plane",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=False,  # handled by _cloudwatch_role, without a managed policy
            deploy_options=apigw.StageOptions(
                stage_name=names.stage,
                access_log_destination=apigw.LogGroupLogDestination(access_logs),
                access_log_format=apigw.AccessLogFormat.custom(json.dumps(_ACCESS_LOG_FIELDS)),
                tracing_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # would log request and response bodies
                metrics_enabled=True,
                throttling_rate_limit=rate_limit,
                throttling_burst_limit=burst_limit,
            ),
        )
        self.rest_api.deployment_stage.node.add_dependency(account_settings)
        self.authorizer = apigw.RequestAuthorizer(
            self,
            "RequestAuthorizer",
            authorizer_name=f"{names.prefix}-authorizer",
            handler=self.authorizer_function.function,
            identity_sources=[apigw.IdentitySource.header("Authorization")],
            results_cache_ttl=Duration.seconds(0),
        )
        # Bodies are validated by the handlers' pydantic models (extra="forbid"); API Gateway checks
        # that the path parameters and the Authorization header are there before anything runs.
        self.validator = self.rest_api.add_request_validator(
            "RequestValidator", validate_request_body=True, validate_request_parameters=True
        )
        self.methods = {(r.method, r.path): self._route(r, functions) for r in routes}
        self._acknowledge()

    def _route(self, route: RouteDef, functions: Mapping[str, ServiceFunction]) -> apigw.Method:
        resource = self.rest_api.root.resource_for_path(route.path)
        parameters = {f"method.request.path.{name}": True for name in re.findall(r"{(\w+)}", route.path)}
        if route.authorized:
            parameters["method.request.header.Authorization"] = True
        method = resource.add_method(
            route.method,
            apigw.LambdaIntegration(functions[route.function].function, proxy=True, allow_test_invoke=False),
            authorizer=self.authorizer if route.authorized else None,
            authorization_type=apigw.AuthorizationType.CUSTOM
            if route.authorized
            else apigw.AuthorizationType.NONE,
            request_parameters=parameters,
            request_validator=self.validator,
        )
        if not route.authorized:
            reason = (
                f"{route.method} {route.path} is public by definition (RouteDef.authorized=False): "
                f"{route.summary}."
            )
            nag.acknowledge(method, "AwsSolutions-APIG4", reason)
            nag.acknowledge(method, "AwsSolutions-COG4", reason)
        return method

    def _cloudwatch_role(self) -> apigw.CfnAccount:
        """API Gateway's per-region account setting: the role it writes access and error logs with."""
        stack = cdk.Stack.of(self)
        logs_arns = f"arn:{stack.partition}:logs:{stack.region}:{stack.account}:*"
        role = iam.Role(
            self,
            "CloudWatchRole",
            assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
            description="API Gateway (account setting): writes REST API access and execution logs",
            inline_policies={
                "PushLogs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=[
                                "logs:CreateLogGroup",
                                "logs:CreateLogStream",
                                "logs:DescribeLogGroups",
                                "logs:DescribeLogStreams",
                                "logs:PutLogEvents",
                                "logs:GetLogEvents",
                                "logs:FilterLogEvents",
                            ],
                            resources=[logs_arns],
                        )
                    ]
                )
            },
        )
        # The setting is shared by every REST API in the region: keep the role if this stack goes.
        role.apply_removal_policy(RemovalPolicy.RETAIN)
        nag.acknowledge_wildcard(
            role,
            f"Resource::{nag.printed(role, logs_arns)}",
            "API Gateway's account-level logging role serves every REST API in this account and region "
            "and creates its own log groups (API-Gateway-Execution-Logs_<api>/<stage>); it cannot be "
            "scoped to groups named in advance.",
        )
        account = apigw.CfnAccount(self, "AccountSettings", cloud_watch_role_arn=role.role_arn)
        account.node.add_dependency(role)
        return account

    def _acknowledge(self) -> None:
        nag.acknowledge(
            self.rest_api,
            "AwsSolutions-COG4",
            "Callers authenticate with OIDC JWTs from the operator's identity provider (any issuer, "
            "e.g. Auth0) or API keys, verified by the tenancy Lambda authorizer, not a Cognito pool.",
        )
        nag.checkov_skip(
            self.rest_api.deployment_stage,
            "CKV_AWS_120",
            "No response cache: responses depend on the caller's org and role (authorizer TTL 0) "
            "and on state that changes under them; a cache would serve stale or another member's data.",
        )
        nag.acknowledge(
            self.rest_api,
            "AwsSolutions-APIG3",
            "No WAF web ACL by default: every method requires the Lambda authorizer and the stage "
            "throttles; an operator who wants WAF rules (and their monthly price) associates an ACL.",
        )
