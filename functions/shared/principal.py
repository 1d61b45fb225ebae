"""The verified caller, as the authorizer hands it to every API function.

The org id comes only from here (the verified token or key), never from a path, query or body.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Role(StrEnum):
    VIEWER = "viewer"
    CONTRIBUTOR = "contributor"
    ADMIN = "admin"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return _RANK[self]

    def at_least(self, other: Role) -> bool:
        return self.rank >= other.rank


_RANK = {Role.VIEWER: 0, Role.CONTRIBUTOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Principal(BaseModel):
    model_config = ConfigDict(frozen=True)

    org_id: str
    role: Role
    user_id: str
    principal_type: str = "user"

    @classmethod
    def from_authorizer_context(cls, context: dict[str, Any] | None) -> Principal:
        """Raises ``Unauthenticated`` if the front door let a request through without a principal."""
        if not context or not context.get("org_id") or not context.get("role"):
            raise Unauthenticated("no verified principal on the request")
        return cls(
            org_id=str(context["org_id"]),
            role=Role(str(context["role"])),
            user_id=str(context.get("user_id") or context.get("principalId") or "unknown"),
            principal_type=str(context.get("principal_type") or "user"),
        )


class Unauthenticated(Exception):
    """The request carries no verified principal (a misconfigured route, never a client error)."""


class Forbidden(Exception):
    """The principal's role does not allow the action."""


def require_role(principal: Principal, minimum: Role, action: str) -> None:
    if not principal.role.at_least(minimum):
        raise Forbidden(f"{action} needs role {minimum.value} or higher; you are {principal.role.value}")
