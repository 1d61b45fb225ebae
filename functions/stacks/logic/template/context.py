"""What every part of the stack template works with: the input, the troposphere ``Template`` being
built (``add``, ``tags``) and the network the stack lives in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from troposphere import AWSObject, Tags, Template

from functions.shared.logic.customer_names import WORKLOAD_PATH
from functions.stacks.logic.network import SubnetFacts
from functions.stacks.models.spec import StackSpec


@dataclass(frozen=True)
class StackTemplateInput:
    spec: StackSpec  # secret values are never read: only the names of container.secret_env
    stack_name: str  # must be spec.stack_name
    account_id: str  # the customer's account (12 digits)
    # arn:aws:iam::<account>:policy/stackpilot-connection/stackpilot-boundary-<suffix>
    permissions_boundary_arn: str
    # Per secret env name, the ARN of the secret already written as ``secret_name(spec, NAME)``.
    secret_arns: Mapping[str, str] = field(default_factory=dict)
    # Existing-VPC mode: the listed subnets as the customer's account describes them.
    subnets: Mapping[str, SubnetFacts] = field(default_factory=dict)
    role_path: str = WORKLOAD_PATH
    # Off only for the update that precedes a deletion (delete_stack): the database is still
    # snapshotted when the stack deletes it.
    deletion_protection: bool = True


@dataclass(frozen=True)
class Network:
    """Where the stack's resources go: the VPC and the subnets of each tier (Refs or given ids)."""

    vpc_id: Any  # Ref or literal id
    public: list[Any]
    app: list[Any]
    data: list[Any]
    cidr: Any | None  # the VPC range (new VPC only)
    app_route_tables: list[Any]  # new VPC with NAT: the tables the NAT instance points at itself


class Context:
    """The template being built for one input (the builder's state, shared by every resource family)."""

    def __init__(self, inp: StackTemplateInput) -> None:
        self.inp = inp
        self.spec = inp.spec
        self.name = inp.stack_name
        self.t = Template(
            Description=f"stackpilot stack {self.name}: {self.spec.front_door} -> ECS on EC2"
            + (" -> PostgreSQL" if self.spec.database else "")
            + (f"; builds {self.spec.source.repository}" if self.spec.source else "")
        )
        self.t.set_version("2010-09-09")
        self.t.set_metadata({"stackpilot": {"Stack": self.name, "Stage": self.spec.stage}})

    def add(self, resource: AWSObject) -> AWSObject:
        return self.t.add_resource(resource)

    def tags(self, suffix: str, **extra: str) -> Tags:
        return Tags({"Name": f"{self.name}-{suffix}", **extra})
