"""The install flow's records: what a signed ``state`` binds, and what an org is answered."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from functions.shared.models.ids import OrgId
from functions.shared.models.principal import UserId


class InstallIntent(BaseModel):
    """Who asked to install the App, for which org: bound into the ``state`` GitHub hands back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    org_id: OrgId
    user_id: UserId
    nonce: str = Field(min_length=16, max_length=64)  # what makes it single-use
    expires_at: datetime


class InstallStart(BaseModel):
    """The answer to ``POST /git/github/install``: where to send the browser, and until when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    install_url: str
    expires_at: datetime
