"""A CloudFormation custom-resource request, as it arrives in the SNS message.

Everything here is attacker-controlled until the logic has checked it against the connection.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ShortStr = Annotated[str, StringConstraints(min_length=1, max_length=2048)]


class ConnectionProperties(BaseModel):
    model_config = ConfigDict(extra="ignore")

    ConnectionId: Annotated[str, StringConstraints(max_length=64)] = ""
    Nonce: Annotated[str, StringConstraints(max_length=256)] = ""
    RoleArn: Annotated[str, StringConstraints(max_length=2048)] = ""
    AccountId: Annotated[str, StringConstraints(max_length=32)] = ""
    Region: Annotated[str, StringConstraints(max_length=32)] = ""
    TemplateVersion: Annotated[str, StringConstraints(max_length=16)] = ""


class CustomResourceRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    RequestType: Literal["Create", "Update", "Delete"]
    ResponseURL: ShortStr
    StackId: ShortStr
    RequestId: ShortStr
    LogicalResourceId: ShortStr
    ResourceType: ShortStr = "Custom::StackpilotConnection"
    PhysicalResourceId: ShortStr | None = None
    ResourceProperties: ConnectionProperties = Field(default_factory=ConnectionProperties)
    OldResourceProperties: dict[str, Any] | None = None
