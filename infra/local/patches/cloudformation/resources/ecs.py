"""ECS Cluster, CapacityProvider, ClusterCapacityProviderAssociations, TaskDefinition and Service,
built on moto's ECS backend with the properties moto's CloudFormation drops."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from infra.local.patches import backends
from infra.local.patches.cloudformation.resources.base import _AppResource, _camel, _flag, _ignore_missing


class _EcsCluster(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        cluster = backends.ecs(account_id, region_name).create_cluster(
            cluster_name=str(properties.get("ClusterName") or name),
            tags=_camel(properties.get("Tags")),
            cluster_settings=_camel(properties.get("ClusterSettings")),
            configuration=_camel(properties.get("Configuration")),
            capacity_providers=properties.get("CapacityProviders"),
            default_capacity_provider_strategy=_camel(properties.get("DefaultCapacityProviderStrategy")),
            service_connect_defaults=_camel(properties.get("ServiceConnectDefaults")),
        )
        return cls(
            cluster.name, account_id, region_name, properties, {"Arn": cluster.arn}, cluster.name, cluster
        )

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties.get("ClusterName") or self.name) != self.name:
            return super().update(name, properties)
        cluster = self.target
        if "ClusterSettings" in properties:
            cluster.settings = _camel(properties["ClusterSettings"])
        cluster.configuration = _camel(properties.get("Configuration"))
        cluster.tags = _camel(properties.get("Tags"))
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = backends.ecs(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_cluster(self.name), f"cluster {self.name}")
        backend.clusters.pop(self.name, None)  # AWS lists no INACTIVE cluster


class _EcsCapacityProvider(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        provider = backends.ecs(account_id, region_name).create_capacity_provider(
            str(properties.get("Name") or name),
            _camel(dict(properties.get("AutoScalingGroupProvider") or {})),
            _camel(properties.get("Tags")),
        )
        return cls(
            provider.name,
            account_id,
            region_name,
            properties,
            {"Arn": provider.capacity_provider_arn},
            provider.name,
            provider,
        )

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties.get("Name") or self.name) != self.name:
            return super().update(name, properties)
        backends.ecs(self.account_id, self.region_name).update_capacity_provider(
            self.name, _camel(dict(properties.get("AutoScalingGroupProvider") or {}))
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = backends.ecs(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_capacity_provider(self.name), f"capacity provider {self.name}")


class _EcsClusterCapacityProviders(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        cluster = str(properties["Cluster"]).split("/")[-1]
        backends.ecs(account_id, region_name).put_cluster_capacity_providers(
            cluster,
            list(properties.get("CapacityProviders") or []),
            _camel(list(properties.get("DefaultCapacityProviderStrategy") or [])),
        )
        return cls(cluster, account_id, region_name, properties, {}, cluster)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties["Cluster"]).split("/")[-1] != self.name:
            return super().update(name, properties)
        return type(self).create(name, properties, self.account_id, self.region_name, {})

    def remove(self) -> None:
        backend = backends.ecs(self.account_id, self.region_name)
        _ignore_missing(
            lambda: backend.put_cluster_capacity_providers(self.name, [], []), f"cluster {self.name}"
        )


class _EcsTaskDefinition(_AppResource):
    """A revision per create; any change registers a new revision (task definitions are immutable:
    AWS replaces them, the old revision is deregistered during cleanup)."""

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
        task_definition = backends.ecs(account_id, region_name).register_task_definition(
            family=str(p.get("Family") or name),
            container_definitions=_camel(list(p.get("ContainerDefinitions") or [])),
            volumes=_camel(p.get("Volumes")),
            network_mode=p.get("NetworkMode"),
            tags=_camel(p.get("Tags")),
            placement_constraints=_camel(p.get("PlacementConstraints")),
            requires_compatibilities=p.get("RequiresCompatibilities"),
            cpu=None if p.get("Cpu") is None else str(p["Cpu"]),
            memory=None if p.get("Memory") is None else str(p["Memory"]),
            task_role_arn=p.get("TaskRoleArn"),
            execution_role_arn=p.get("ExecutionRoleArn"),
            proxy_configuration=_camel(p.get("ProxyConfiguration")),
            inference_accelerators=_camel(p.get("InferenceAccelerators")),
            runtime_platform=_camel(p.get("RuntimePlatform")),
            ipc_mode=p.get("IpcMode"),
            pid_mode=p.get("PidMode"),
            ephemeral_storage=_camel(p.get("EphemeralStorage")),
        )
        arn = task_definition.arn
        return cls(
            arn,
            account_id,
            region_name,
            properties,
            {"TaskDefinitionArn": arn},
            task_definition.family,
            task_definition,
        )

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        return type(self).create(str(self.name), properties, self.account_id, self.region_name, {})

    def remove(self) -> None:
        backend = backends.ecs(self.account_id, self.region_name)
        _ignore_missing(
            lambda: backend.deregister_task_definition(self.physical_resource_id), self.physical_resource_id
        )


def _ecs_network(properties: Mapping[str, Any]) -> Any:
    network = _camel(properties.get("NetworkConfiguration"))
    if network and "awsvpcConfiguration" in network:
        network["awsvpcConfiguration"].setdefault("securityGroups", [])
    return network


class _EcsService(_AppResource):
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
        cluster = str(p.get("Cluster") or "default").split("/")[-1]
        service = backends.ecs(account_id, region_name).create_service(
            cluster,
            str(p.get("ServiceName") or name),
            int(p.get("DesiredCount", 1)),
            task_definition_str=p.get("TaskDefinition"),
            load_balancers=_camel(p.get("LoadBalancers")),
            scheduling_strategy=p.get("SchedulingStrategy"),
            tags=_camel(p.get("Tags")),
            deployment_controller=_camel(p.get("DeploymentController")),
            launch_type=p.get("LaunchType"),
            service_registries=_camel(p.get("ServiceRegistries")),
            platform_version=p.get("PlatformVersion"),
            propagate_tags=str(p.get("PropagateTags") or "NONE"),
            network_configuration=_ecs_network(p),
            role_arn=p.get("Role"),
        )
        resource = cls(
            service.arn,
            account_id,
            region_name,
            p,
            {"Name": service.name, "ServiceArn": service.arn},
            service.name,
            service,
        )
        resource.cluster = cluster
        resource._decorate(p)
        return resource

    def _decorate(self, p: Mapping[str, Any]) -> None:
        """What moto's Service does not take: shown by DescribeServices like AWS does."""
        service = self.target
        strategy = _camel(p.get("CapacityProviderStrategy"))
        if strategy:
            service.capacity_provider_strategy = strategy
            if not p.get("LaunchType"):
                service.launch_type = None
                for deployment in service.deployments:
                    deployment["launchType"] = None
                    deployment["capacityProviderStrategy"] = strategy
        if p.get("DeploymentConfiguration") is not None:
            service.deployment_configuration = _camel(p["DeploymentConfiguration"])
        if p.get("HealthCheckGracePeriodSeconds") is not None:
            service.health_check_grace_period_seconds = int(p["HealthCheckGracePeriodSeconds"])
        service.enable_execute_command = _flag(p.get("EnableExecuteCommand"))
        service.enable_ecs_managed_tags = _flag(p.get("EnableECSManagedTags"))

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        p = properties
        cluster = str(p.get("Cluster") or "default").split("/")[-1]
        if cluster != self.cluster or str(p.get("ServiceName") or self.name) != self.name:
            return super().update(name, properties)
        backend = backends.ecs(self.account_id, self.region_name)
        service = backend.update_service(
            {
                "cluster": cluster,
                "service": self.name,
                "task_definition": p.get("TaskDefinition"),
                "desired_count": int(p.get("DesiredCount", 1)),
            }
        )
        service.load_balancers = _camel(p.get("LoadBalancers")) or []
        service.service_registries = _camel(p.get("ServiceRegistries")) or []
        if p.get("NetworkConfiguration") is not None:
            service.network_configuration = _ecs_network(p)
        for deployment in service.deployments:
            deployment["taskDefinition"] = service.task_definition
            deployment["desiredCount"] = service.desired_count
        self.target = service
        self._decorate(p)
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = backends.ecs(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_service(self.cluster, self.name, True), f"service {self.name}")
        backend.services.pop(f"{self.cluster}:{self.name}", None)  # AWS lists no INACTIVE service
