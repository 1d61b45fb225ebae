"""A CloudFormation custom-resource request, as it arrives in the SNS message.

Everything here is attacker-controlled until the logic has checked it against the connection.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ShortStr = Annotated[str, StringConstraints(min_length=1, max_length=2048)]
# Properties are only bounded here: the logic judges them, and a request whose envelope is sound gets
# an answer (FAILED) however odd its properties are, so the customer's stack never hangs.
Prop = Annotated[str, StringConstraints(max_length=4096)]


class ConnectionProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ConnectionId: Prop = ""
    OrgId: Prop = ""  # templates rendered before it was added have none
    Nonce: Prop = ""
    RoleArn: Prop = ""
    AccountId: Prop = ""
    Region: Prop = ""
    TemplateVersion: Prop = ""
    UpgradeToken: Prop = ""  # only in a template rendered by POST /accounts/{id}/upgrade


class CustomResourceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    RequestType: Literal["Create", "Update", "Delete"]
    ResponseURL: Annotated[str, StringConstraints(min_length=1, max_length=8192)]
    StackId: ShortStr
    RequestId: ShortStr
    LogicalResourceId: ShortStr
    ResourceType: ShortStr = "Custom::StackpilotConnection"
    PhysicalResourceId: ShortStr | None = None
    ResourceProperties: ConnectionProperties = Field(default_factory=ConnectionProperties)
    OldResourceProperties: dict[str, Any] | None = None
