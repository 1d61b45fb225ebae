"""The verified caller, as the authorizer hands it to every API function."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints

OrgId = Annotated[str, StringConstraints(pattern=r"^org_[A-Za-z0-9_-]{1,64}$")]
UserId = Annotated[str, StringConstraints(min_length=1, max_length=255)]
Role = Literal["owner", "admin", "contributor", "viewer"]
PrincipalType = Literal["user"]


class Principal(BaseModel):
    """Who is calling: the token's subject, the one org it acts in, and its role there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user_id: UserId
    org_id: OrgId
    role: Role
    principal_type: PrincipalType = "user"

    def as_context(self) -> dict[str, str]:
        """The authorizer context API Gateway passes on (strings only: it refuses objects)."""
        return {
            "org_id": self.org_id,
            "role": self.role,
            "user_id": self.user_id,
            "principal_type": self.principal_type,
        }
