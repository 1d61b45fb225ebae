"""The verified caller, as the authorizer hands it to every API function.

The org id comes only from here (the verified token or key), never from a path, query or body.
The role is the one looked up at this request (membership, and for a key the creator's current
membership), never a role a token claims.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

from functions.shared.errors import Forbidden, Unauthenticated
from functions.shared.models.ids import OrgId

UserId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
PrincipalType = Literal["user", "api_key"]


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

    @staticmethod
    def lowest(*roles: Role) -> Role:
        return min(roles, key=lambda r: r.rank)


_RANK = {Role.VIEWER: 0, Role.CONTRIBUTOR: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Identity(BaseModel):
    """A verified user who may belong to no org yet (enough to create one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: UserId
    principal_type: PrincipalType = "user"

    @classmethod
    def from_authorizer_context(cls, context: dict[str, Any] | None) -> Identity:
        if not context or not context.get("user_id"):
            raise Unauthenticated("no verified identity on the request")
        return cls(user_id=str(context["user_id"]), principal_type=context.get("principal_type") or "user")


class Principal(BaseModel):
    """A member of one org, acting with the role looked up at this request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    org_id: OrgId
    role: Role
    user_id: UserId  # for an API key: the user who created it
    principal_type: PrincipalType = "user"
    key_id: str | None = None  # set for API keys

    @property
    def actor(self) -> str:
        """Who acted, as the audit log names them."""
        if self.principal_type == "api_key":
            return f"key:{self.key_id}"
        return f"user:{self.user_id}"

    def as_context(self) -> dict[str, str]:
        """The authorizer context API Gateway passes on (strings only: it refuses objects)."""
        context = {
            "org_id": self.org_id,
            "role": self.role.value,
            "user_id": self.user_id,
            "principal_type": self.principal_type,
        }
        if self.key_id:
            context["key_id"] = self.key_id
        return context

    @classmethod
    def from_authorizer_context(cls, context: dict[str, Any] | None) -> Principal:
        """Raises ``Unauthenticated`` if the front door let a request through without a member."""
        if not context or not context.get("org_id") or not context.get("role"):
            raise Unauthenticated("no verified principal on the request")
        return cls(
            org_id=str(context["org_id"]),
            role=Role(str(context["role"])),
            user_id=str(context.get("user_id") or "unknown"),
            principal_type=context.get("principal_type") or "user",
            key_id=context.get("key_id") or None,
        )


def require_role(principal: Principal, minimum: Role, action: str) -> None:
    if not principal.role.at_least(minimum):
        raise Forbidden(f"{action} needs role {minimum.value} or higher; you are {principal.role.value}")


def require_user(principal: Principal, action: str) -> None:
    if principal.principal_type != "user":
        raise Forbidden(f"{action} needs a signed-in user; API keys cannot do it")
