"""Existing-VPC mode: classify the customer's subnets and check them against a ``StackSpec``.

Pure functions over data shaped like EC2's ``DescribeSubnets`` / ``DescribeRouteTables`` answers (the
integration layer describes the VPC with a ``vpc-id`` filter, so the main route table is included).

A subnet's kind is decided by the route table it uses - its explicit association, else the VPC's
main route table - and that table's *active* ``0.0.0.0/0`` route:

* ``public``: to an internet gateway (``igw-...``);
* ``private``: to anything else that forwards (NAT gateway, NAT instance, network interface, transit
  gateway, peering, virtual private gateway, ...);
* ``isolated``: no default route, or only a ``blackhole`` one.

Rules for a spec in existing-VPC mode (each problem names the spec field it is about):

* every listed subnet exists and belongs to ``network.vpc_id``, and has the kind of its list;
* the app tier needs >= 2 private subnets in distinct AZs (ECS instances, tasks, VPC link and bastion
  go there; one AZ would put the whole service in one failure domain);
* ``front_door: alb`` needs >= 2 public subnets in distinct AZs (an ALB requirement), and a public
  subnet in every AZ of the private subnets: an ALB never sends traffic to targets in an AZ it is not
  enabled in;
* a database needs >= 2 isolated subnets in distinct AZs (an RDS subnet group requirement).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from functions.stacks.models.spec import ExistingVpc, StackSpec

SubnetKind = Literal["public", "private", "isolated"]

_DEFAULT_ROUTE: Final = "0.0.0.0/0"
# Route targets other than GatewayId; any of them on the default route makes a subnet private.
_FORWARDING_TARGETS: Final = (
    "NatGatewayId",
    "InstanceId",
    "NetworkInterfaceId",
    "TransitGatewayId",
    "VpcPeeringConnectionId",
    "CarrierGatewayId",
    "LocalGatewayId",
    "CoreNetworkArn",
)
_LISTS: Final[dict[SubnetKind, str]] = {
    "public": "public_subnet_ids",
    "private": "private_subnet_ids",
    "isolated": "isolated_subnet_ids",
}
_WHAT: Final[dict[SubnetKind, str]] = {
    "public": "its default route goes to an internet gateway",
    "private": "its default route goes through a NAT or another forwarding target",
    "isolated": "it has no default route",
}


@dataclass(frozen=True)
class SubnetFacts:
    """One subnet as the customer's account describes it."""

    subnet_id: str
    vpc_id: str
    availability_zone: str
    kind: SubnetKind
    route_table_id: str


@dataclass(frozen=True)
class NetworkProblem:
    field: str  # e.g. "network.isolated_subnet_ids"
    reason: str


# --------------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------------


def route_table_kind(route_table: Mapping[str, Any]) -> SubnetKind:
    """The kind of subnet a route table makes, from its active ``0.0.0.0/0`` route."""
    for route in route_table.get("Routes", []):
        if route.get("DestinationCidrBlock") != _DEFAULT_ROUTE or route.get("State") == "blackhole":
            continue
        if str(route.get("GatewayId", "")).startswith("igw-"):
            return "public"
        if route.get("GatewayId") or any(route.get(target) for target in _FORWARDING_TARGETS):
            return "private"
    return "isolated"


def route_table_of(
    subnet_id: str, vpc_id: str, route_tables: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The route table a subnet uses: its explicit association, else its VPC's main table."""
    main = None
    for table in route_tables:
        for association in table.get("Associations", []):
            if association.get("SubnetId") == subnet_id:
                return table
            if association.get("Main") and table.get("VpcId") == vpc_id:
                main = table
    return main


def classify_subnets(
    subnets: Sequence[Mapping[str, Any]], route_tables: Sequence[Mapping[str, Any]]
) -> dict[str, SubnetFacts]:
    """``DescribeSubnets()["Subnets"]`` + ``DescribeRouteTables()["RouteTables"]`` -> facts by id.

    Raises ``ValueError`` when a subnet has no route table at all: the route tables were described
    without the VPC's main table (describe them by ``vpc-id``).
    """
    facts: dict[str, SubnetFacts] = {}
    for subnet in subnets:
        subnet_id, vpc_id = str(subnet["SubnetId"]), str(subnet["VpcId"])
        table = route_table_of(subnet_id, vpc_id, route_tables)
        if table is None:
            raise ValueError(f"no route table for {subnet_id}: describe the route tables of {vpc_id}")
        facts[subnet_id] = SubnetFacts(
            subnet_id=subnet_id,
            vpc_id=vpc_id,
            availability_zone=str(subnet["AvailabilityZone"]),
            kind=route_table_kind(table),
            route_table_id=str(table["RouteTableId"]),
        )
    return facts


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------


def validate_existing_network(spec: StackSpec, facts: Mapping[str, SubnetFacts]) -> list[NetworkProblem]:
    """Problems with the subnets an existing-VPC spec names (empty for a new-VPC spec)."""
    network = spec.network
    if not isinstance(network, ExistingVpc):
        return []
    problems: list[NetworkProblem] = []
    usable: dict[SubnetKind, list[SubnetFacts]] = {}
    for kind, attribute in _LISTS.items():
        field = f"network.{attribute}"
        usable[kind] = []
        for subnet_id in getattr(network, attribute):
            subnet = facts.get(subnet_id)
            if subnet is None:
                problems.append(NetworkProblem(field, f"{subnet_id} was not found in {spec.region}"))
            elif subnet.vpc_id != network.vpc_id:
                problems.append(
                    NetworkProblem(field, f"{subnet_id} is in {subnet.vpc_id}, not {network.vpc_id}")
                )
            elif subnet.kind != kind:
                problems.append(
                    NetworkProblem(
                        field,
                        f"{subnet_id} is {subnet.kind} (route table {subnet.route_table_id}), "
                        f"but {attribute} needs {kind} subnets: {_WHAT[kind]}",
                    )
                )
            else:
                usable[kind].append(subnet)
    problems += _spread("private", usable["private"], "the app (ECS instances and tasks)")
    if spec.front_door == "alb":
        problems += _spread("public", usable["public"], "an ALB")
        problems += _alb_reaches_app(usable["public"], usable["private"])
    if spec.database is not None:
        problems += _spread("isolated", usable["isolated"], "a database")
    return problems


def _spread(kind: SubnetKind, subnets: list[SubnetFacts], who: str) -> list[NetworkProblem]:
    zones = {s.availability_zone for s in subnets}
    if len(zones) >= 2:
        return []
    return [
        NetworkProblem(
            f"network.{_LISTS[kind]}",
            f"{who} needs at least 2 {kind} subnets in distinct availability zones "
            f"(usable ones cover {len(zones)})",
        )
    ]


def _alb_reaches_app(public: list[SubnetFacts], private: list[SubnetFacts]) -> list[NetworkProblem]:
    alb_zones = {s.availability_zone for s in public}
    if not alb_zones:
        return []  # already reported by _spread
    missing = sorted({s.availability_zone for s in private} - alb_zones)
    if not missing:
        return []
    return [
        NetworkProblem(
            "network.public_subnet_ids",
            f"no public subnet in {', '.join(missing)}, where private subnets run tasks: "
            "the ALB would never send them traffic",
        )
    ]
