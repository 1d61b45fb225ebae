"""The order resources are created, updated and deleted in: DependsOn *and* references (Ref,
Fn::GetAtt, Fn::Sub variables), and AWS's check that every reference resolves."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from infra.local.patches._machinery import _as_list, _replace

_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _sub_names(text: str, local: Iterable[str]) -> set[str]:
    skip = set(local)
    return {m.group(1).strip().split(".", 1)[0] for m in _SUB_VARIABLE.finditer(text)} - skip


def _references(value: Any) -> set[str]:
    """Names a template fragment refers to: Ref, Fn::GetAtt, Fn::Sub variables, DependsOn."""
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value))
    if not isinstance(value, Mapping):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            found.add(item)
        elif key == "Fn::GetAtt":
            found |= _get_att_reference(item)
        elif key == "Fn::Sub":
            found |= _sub_references(item)
        elif key == "DependsOn":
            found |= {str(d) for d in _as_list(item)}
        else:
            found |= _references(item)
    return found


def _get_att_reference(argument: Any) -> set[str]:
    if isinstance(argument, list) and argument and isinstance(argument[0], str):
        return {argument[0]}
    if isinstance(argument, str):
        return {argument.split(".", 1)[0]}
    return set()


def _sub_references(argument: Any) -> set[str]:
    if isinstance(argument, str):
        return _sub_names(argument, ())
    if not isinstance(argument, list) or not argument:
        return set()
    local = argument[1] if len(argument) > 1 and isinstance(argument[1], Mapping) else {}
    names = _sub_names(argument[0], local) if isinstance(argument[0], str) else set()
    return names | _references(local)


def _dependency_order(json_map: Mapping[str, Any]) -> list[str]:
    """Resources in creation order: DependsOn *and* references (moto's order honours DependsOn only
    and relies on its lazy map, so a resource's events came before its dependencies')."""
    ids = list(json_map)
    deps = {lid: _references(json_map[lid]) & set(ids) - {lid} for lid in ids}
    order: list[str] = []
    done: set[str] = set()

    def visit(logical_id: str, path: frozenset[str]) -> None:
        if logical_id in done or logical_id in path:  # a cycle is AWS's error; keep going here
            return
        for dep in ids:
            if dep in deps[logical_id]:
                visit(dep, path | {logical_id})
        done.add(logical_id)
        order.append(logical_id)

    for logical_id in ids:
        visit(logical_id, frozenset())
    return order


def _map_dependency_order(self: Any) -> list[str]:
    """ResourceMap.__get_resources_in_dependency_order."""
    return _dependency_order(self._resource_json_map)


def _check_references(template: Mapping[str, Any]) -> None:
    from moto.cloudformation.exceptions import ValidationError

    known = set(template.get("Parameters") or {}) | set(template.get("Resources") or {})
    for section in ("Resources", "Outputs"):
        body = template.get(section) or {}
        missing = sorted(
            {
                name
                for entry in body.values()
                for name in _references(entry)
                if name not in known and not name.startswith("AWS::")
            }
        )
        if missing:
            raise ValidationError(
                message=f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] "
                f"in the {section} block of the template"
            )


def patch() -> None:
    from moto.cloudformation import parsing

    _replace(
        parsing.ResourceMap,
        "_ResourceMap__get_resources_in_dependency_order",
        _map_dependency_order,
        "cloudformation dependency order",
    )
