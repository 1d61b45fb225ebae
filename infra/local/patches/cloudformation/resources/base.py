"""The base of the patches' own resource classes (`_AppResource`) and the small helpers they share."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from typing import Any

LOG = logging.getLogger(__name__)


def _flag(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _camel(value: Any) -> Any:
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys

    return None if value is None else remap_nested_keys(value, pascal_to_camelcase)


def _short_id(length: int) -> str:
    return uuid.uuid4().hex[:length]


def _partition(region_name: str) -> str:
    from moto.utilities.utils import get_partition

    return str(get_partition(region_name))


def _ignore_missing(action: Callable[[], Any], what: str) -> None:
    try:
        action()
    except Exception as exc:  # already gone (deleted with its parent), or never fully created
        LOG.debug("delete of %s: %s", what, exc)


class _AppResource:
    """A resource created by the patches; duck-types moto's CloudFormationModel.

    Subclasses implement `create` (a classmethod), `update` (return self for an in-place update,
    a new instance for a replacement: the old one is deleted in the cleanup phase) and `remove`.
    """

    def __init__(
        self,
        physical_id: str,
        account_id: str,
        region_name: str,
        properties: Mapping[str, Any],
        attributes: Mapping[str, Any] | None = None,
        name: str | None = None,
        target: Any = None,
    ) -> None:
        self.physical_resource_id = physical_id
        self.account_id = account_id
        self.region_name = region_name
        self.properties = dict(properties)
        self.attributes = dict(attributes or {})
        self.name = name
        self.target = target  # the backend object, when there is one

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        if self.target is not None and hasattr(self.target, "get_cfn_attribute"):
            return self.target.get_cfn_attribute(attribute_name)
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        resource = cls.create(
            resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name, kwargs
        )
        resource.deletion_policy = cloudformation_json.get("DeletionPolicy")
        return resource

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        updated = original_resource.update(new_resource_name, cloudformation_json.get("Properties") or {})
        updated.deletion_policy = cloudformation_json.get("DeletionPolicy")
        return updated

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None

    def delete(self, account_id: str, region_name: str) -> None:
        self.remove()

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        raise NotImplementedError

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        """Default: replacement."""
        context = {"LogicalId": getattr(self, "logical_resource_id", ""), "ResourceType": self.type_name}
        return type(self).create(name, properties, self.account_id, self.region_name, context)

    def remove(self) -> None:
        return None

    @property
    def type_name(self) -> str:
        return str(getattr(self, "cf_resource_type", ""))


def _generated_name(context: Mapping[str, Any], fallback: str) -> str:
    return f"{context.get('LogicalId') or fallback}-{uuid.uuid4().hex[:12]}"
