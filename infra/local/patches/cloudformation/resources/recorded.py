"""Types moto's CloudFormation does not know and the patches do not build: recorded with a plausible
physical id and attributes, CREATE_COMPLETE, no backend object (so a Ref to them still resolves)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from infra.local.patches.cloudformation.resources.base import _AppResource, _partition, _short_id

LOG = logging.getLogger(__name__)

# Recorded types: (physical id, attributes) from (name, properties, account, region, context).
_Shape = Callable[[str, Mapping[str, Any], str, str, Mapping[str, Any]], tuple[str, dict[str, Any]]]


def _namespace_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    namespace_id = f"ns-{_short_id(16)}"
    arn = f"arn:{_partition(region)}:servicediscovery:{region}:{account}:namespace/{namespace_id}"
    return namespace_id, {"Id": namespace_id, "Arn": arn, "HostedZoneId": f"Z{_short_id(13).upper()}"}


def _discovery_service_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    service_id = f"srv-{_short_id(16)}"
    arn = f"arn:{_partition(region)}:servicediscovery:{region}:{account}:service/{service_id}"
    return service_id, {"Id": service_id, "Arn": arn, "Name": str(p.get("Name") or name)}


def _default_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    resource_type = str(c.get("ResourceType") or "AWS::Unknown::Resource")
    service = resource_type.split("::")[1].lower() if resource_type.count("::") == 2 else "unknown"
    kind = resource_type.rsplit("::", 1)[-1].lower()
    arn = f"arn:{_partition(region)}:{service}:{region}:{account}:{kind}/{name}"
    return name, {"Arn": arn, "Id": name, "Name": name}


_RECORDED_SHAPES: dict[str, _Shape] = {
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _namespace_shape,
    "AWS::ServiceDiscovery::Service": _discovery_service_shape,
}


class _RecordedResource(_AppResource):
    """A type moto's CloudFormation does not know: a plausible physical id and attributes, no backend
    object. Updates are recorded in place; deletes do nothing."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        shape = _RECORDED_SHAPES.get(str(context.get("ResourceType")), _default_shape)
        physical_id, attributes = shape(name, properties, account_id, region_name, context)
        LOG.info(
            "%s %s recorded without a backend object", context.get("ResourceType"), context.get("LogicalId")
        )
        return cls(physical_id, account_id, region_name, properties, attributes)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        self.properties = dict(properties)
        return self
