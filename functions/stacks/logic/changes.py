"""A stack's spec after a change (PATCH /stacks/{id}, preview): the stored spec, the change merged
over it as a JSON Merge Patch (RFC 7386), validated again as a whole ``StackSpec``.

Secret values never reach the stored spec: it keeps each secret env name with a masked value, and
the merged result says which names get a new value (to be written into the customer's Secrets
Manager) and which names go away.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import SecretStr, ValidationError

from functions.stacks.exceptions import InvalidStackRequest
from functions.stacks.models.spec import StackChange, StackSpec, masked


@dataclass(frozen=True)
class ChangedSpec:
    spec: StackSpec  # secret values: the new ones where given, masked for the kept ones
    stored: StackSpec  # what is kept: secret values masked
    write_secrets: dict[str, SecretStr] = field(repr=False, default_factory=dict)
    removed_secrets: frozenset[str] = frozenset()

    @property
    def secret_names(self) -> set[str]:
        return set(self.spec.container.secret_env)


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge key by key, ``None`` removes a key, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge(result.get(key), value)
    return result


def apply_change(stored: StackSpec, change: StackChange) -> ChangedSpec:
    """The spec the change makes, or a 422 naming the field (nothing is written before this)."""
    patch = change.merge_patch()
    if "database" in patch and patch["database"] is None and stored.database is not None:
        raise InvalidStackRequest(
            "database",
            "a database cannot be removed by an update (its deletion protection refuses it); "
            "delete the stack to remove it",
        )
    merged = merge(stored.model_dump(mode="json"), patch)
    if "database" in patch and patch["database"] is not None and stored.database is None:
        merged["database"] = patch["database"]  # a new database: its defaults fill the rest
    try:
        spec = StackSpec.model_validate(merged, strict=False)
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        raise InvalidStackRequest(
            ".".join(str(p) for p in first["loc"]) or "body", str(first["msg"])
        ) from None
    given = (patch.get("container") or {}).get("secret_env") or {}
    write = {name: value for name, value in given.items() if isinstance(value, SecretStr)}
    removed = frozenset(set(stored.container.secret_env) - set(spec.container.secret_env))
    return ChangedSpec(spec=spec, stored=masked(spec), write_secrets=write, removed_secrets=removed)


def same_spec(stored: StackSpec, changed: ChangedSpec) -> bool:
    """Nothing would change: the same spec and no secret value to write."""
    return not changed.write_secrets and changed.stored == stored


_PARTS = ("container", "database", "bastion", "source")


def change_summary(before: StackSpec, changed: ChangedSpec) -> str:
    """Which fields the change changes (names only: never a value that might be sensitive)."""
    old, new = before.model_dump(mode="json"), changed.stored.model_dump(mode="json")
    fields = sorted(
        {f"{k}.{n}" for k in _PARTS for n in _diff(old.get(k), new.get(k))}
        | {k for k in new.keys() | old.keys() if k not in _PARTS and old.get(k) != new.get(k)}
        | {f"container.secret_env.{n}" for n in changed.write_secrets}
    )
    return "changes " + (", ".join(fields) if fields else "nothing")[:480]


def _diff(a: Any, b: Any) -> set[str]:
    if not isinstance(a, dict) or not isinstance(b, dict):
        return {"*"} if a != b else set()
    return {k for k in a.keys() | b.keys() if a.get(k) != b.get(k)}
