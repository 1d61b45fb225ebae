"""ApiGatewayV2 Api, VpcLink, Integration, Route and Stage, built on moto's ApiGatewayV2 backend
(moto's CloudFormation lacks them): GetApis, GetVpcLinks, GetIntegrations, GetRoutes and GetStages
show what the stack created, and a delete removes it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches.cloudformation.resources.base import _AppResource, _flag, _ignore_missing


def _api_of(properties: Mapping[str, Any], account_id: str, region_name: str) -> Any:
    return backends.apigatewayv2(account_id, region_name).get_api(str(properties["ApiId"]))


class _HttpApi(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        p = properties
        api = backends.apigatewayv2(account_id, region_name).create_api(
            api_key_selection_expression=p.get("ApiKeySelectionExpression"),
            cors_configuration=p.get("CorsConfiguration"),
            description=p.get("Description"),
            disable_schema_validation=p.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=p.get("DisableExecuteApiEndpoint"),
            name=str(p.get("Name") or name),
            protocol_type=str(p.get("ProtocolType") or "HTTP"),
            route_selection_expression=p.get("RouteSelectionExpression"),
            tags=dict(p.get("Tags") or {}),
            version=p.get("Version"),
        )
        if api.protocol_type == "WEBSOCKET":
            api.api_endpoint = f"wss://{api.api_id}.execute-api.{region_name}.amazonaws.com"
        attributes = {"ApiId": api.api_id, "ApiEndpoint": api.api_endpoint}
        return cls(api.api_id, account_id, region_name, p, attributes, api.name, api)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if properties.get("ProtocolType", "HTTP") != self.properties.get("ProtocolType", "HTTP"):
            return super().update(name, properties)
        p = properties
        backends.apigatewayv2(self.account_id, self.region_name).update_api(
            api_id=self.physical_resource_id,
            api_key_selection_expression=p.get("ApiKeySelectionExpression"),
            cors_configuration=p.get("CorsConfiguration"),
            description=p.get("Description"),
            disable_schema_validation=p.get("DisableSchemaValidation"),
            disable_execute_api_endpoint=p.get("DisableExecuteApiEndpoint"),
            name=str(p.get("Name") or self.name),
            route_selection_expression=p.get("RouteSelectionExpression"),
            version=p.get("Version"),
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = backends.apigatewayv2(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_api(self.physical_resource_id), f"api {self.name}")


class _VpcLink(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        link = backends.apigatewayv2(account_id, region_name).create_vpc_link(
            name=str(properties.get("Name") or name),
            sg_ids=[str(g) for g in properties.get("SecurityGroupIds") or []],
            subnet_ids=[str(s) for s in properties.get("SubnetIds") or []],
            tags=dict(properties.get("Tags") or {}),
        )
        return cls(link.id, account_id, region_name, properties, {"VpcLinkId": link.id}, link.name, link)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        """Only the name changes in place (AWS replaces a link whose subnets or groups change)."""
        fixed = ("SubnetIds", "SecurityGroupIds")
        if any(properties.get(k) != self.properties.get(k) for k in fixed):
            return super().update(name, properties)
        backends.apigatewayv2(self.account_id, self.region_name).update_vpc_link(
            self.physical_resource_id, str(properties.get("Name") or self.name)
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = backends.apigatewayv2(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_vpc_link(self.physical_resource_id), f"vpc link {self.name}")


def _integration_kwargs(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "connection_id": p.get("ConnectionId"),
        "connection_type": p.get("ConnectionType"),
        "content_handling_strategy": p.get("ContentHandlingStrategy"),
        "credentials_arn": p.get("CredentialsArn"),
        "description": p.get("Description"),
        "integration_method": p.get("IntegrationMethod"),
        "integration_subtype": p.get("IntegrationSubtype"),
        "integration_type": p.get("IntegrationType"),
        "integration_uri": p.get("IntegrationUri"),
        "passthrough_behavior": p.get("PassthroughBehavior"),
        "payload_format_version": p.get("PayloadFormatVersion"),
        "request_parameters": p.get("RequestParameters"),
        "request_templates": p.get("RequestTemplates"),
        "response_parameters": p.get("ResponseParameters"),
        "template_selection_expression": p.get("TemplateSelectionExpression"),
        "timeout_in_millis": p.get("TimeoutInMillis"),
        "tls_config": p.get("TlsConfig"),
    }


class _Integration(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        integration = _api_of(properties, account_id, region_name).create_integration(
            **_integration_kwargs(properties)
        )
        resource = cls(integration.id, account_id, region_name, properties, {"IntegrationId": integration.id})
        resource.target = integration
        return resource

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if properties.get("ApiId") != self.properties.get("ApiId"):
            return super().update(name, properties)
        _api_of(properties, self.account_id, self.region_name).update_integration(
            integration_id=self.physical_resource_id, **_integration_kwargs(properties)
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        _ignore_missing(
            lambda: _api_of(self.properties, self.account_id, self.region_name).delete_integration(
                self.physical_resource_id
            ),
            f"integration {self.physical_resource_id}",
        )


def _route_kwargs(p: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "api_key_required": _flag(p.get("ApiKeyRequired")),
        "authorization_scopes": list(p.get("AuthorizationScopes") or []),
        "authorization_type": p.get("AuthorizationType"),
        "authorizer_id": p.get("AuthorizerId"),
        "model_selection_expression": p.get("ModelSelectionExpression"),
        "operation_name": p.get("OperationName"),
        "request_models": p.get("RequestModels"),
        "request_parameters": p.get("RequestParameters"),
        "route_key": str(p["RouteKey"]),
        "route_response_selection_expression": p.get("RouteResponseSelectionExpression"),
        "target": p.get("Target"),
    }


class _Route(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        route = _api_of(properties, account_id, region_name).create_route(**_route_kwargs(properties))
        return cls(route.route_id, account_id, region_name, properties, {"RouteId": route.route_id})

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if properties.get("ApiId") != self.properties.get("ApiId"):
            return super().update(name, properties)
        _api_of(properties, self.account_id, self.region_name).update_route(
            route_id=self.physical_resource_id, **_route_kwargs(properties)
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        _ignore_missing(
            lambda: _api_of(self.properties, self.account_id, self.region_name).delete_route(
                self.physical_resource_id
            ),
            f"route {self.physical_resource_id}",
        )


def _stage_config(p: Mapping[str, Any]) -> dict[str, Any]:
    config = {
        "stageName": str(p["StageName"]),
        "accessLogSettings": p.get("AccessLogSettings"),
        "autoDeploy": p.get("AutoDeploy"),
        "clientCertificateId": p.get("ClientCertificateId"),
        "defaultRouteSettings": p.get("DefaultRouteSettings"),
        "deploymentId": p.get("DeploymentId"),
        "description": p.get("Description"),
        "routeSettings": p.get("RouteSettings"),
        "stageVariables": p.get("StageVariables"),
        "tags": p.get("Tags"),
    }
    return {key: value for key, value in config.items() if value is not None}


class _Stage(_AppResource):
    """A stage is replaced on any change here (moto's Stage has no update)."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        config = _stage_config(properties)
        if config.get("accessLogSettings"):  # moto's Stage keeps the JSON shape: camelCase keys
            settings = config["accessLogSettings"]
            config["accessLogSettings"] = {
                "destinationArn": settings.get("DestinationArn"),
                "format": settings.get("Format"),
            }
        stage = _api_of(properties, account_id, region_name).create_stage(config)
        return cls(stage.name, account_id, region_name, properties, {}, stage.name, stage)

    def remove(self) -> None:
        _ignore_missing(
            lambda: _api_of(self.properties, self.account_id, self.region_name).delete_stage(self.name),
            f"stage {self.name}",
        )
