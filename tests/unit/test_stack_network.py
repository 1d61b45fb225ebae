"""Existing-VPC mode: how subnets are classified from their routes, and what a spec needs of them."""

from __future__ import annotations

from typing import Any

import pytest

from functions.stacks.logic.network import (
    NetworkProblem,
    SubnetFacts,
    classify_subnets,
    route_table_kind,
    validate_existing_network,
)
from functions.stacks.models.spec import StackSpec

VPC = "vpc-0123abcd"
OTHER_VPC = "vpc-0fedcba9"


def table(
    table_id: str, *routes: dict[str, Any], subnets: tuple[str, ...] = (), main: bool = False
) -> dict[str, Any]:
    associations: list[dict[str, Any]] = [{"SubnetId": s, "RouteTableId": table_id} for s in subnets]
    if main:
        associations.append({"Main": True, "RouteTableId": table_id})
    local = {"DestinationCidrBlock": "10.0.0.0/16", "GatewayId": "local", "State": "active"}
    return {"RouteTableId": table_id, "VpcId": VPC, "Associations": associations, "Routes": [local, *routes]}


def default_via(**target: str) -> dict[str, Any]:
    return {"DestinationCidrBlock": "0.0.0.0/0", "State": "active", **target}


# --------------------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("routes", "kind"),
    [
        ([default_via(GatewayId="igw-0abc")], "public"),
        ([default_via(NatGatewayId="nat-0abc")], "private"),
        ([default_via(InstanceId="i-0abc", NetworkInterfaceId="eni-0abc")], "private"),
        ([default_via(NetworkInterfaceId="eni-0abc")], "private"),
        ([default_via(TransitGatewayId="tgw-0abc")], "private"),
        ([default_via(GatewayId="vgw-0abc")], "private"),
        ([], "isolated"),
        ([{**default_via(NatGatewayId="nat-0gone"), "State": "blackhole"}], "isolated"),
        # an S3 gateway endpoint's prefix-list route is not a way to the internet
        (
            [{"DestinationPrefixListId": "pl-63a5400a", "GatewayId": "vpce-0abc", "State": "active"}],
            "isolated",
        ),
        ([{"DestinationIpv6CidrBlock": "::/0", "EgressOnlyInternetGatewayId": "eigw-0abc"}], "isolated"),
    ],
)
def test_a_route_table_makes_its_subnets_public_private_or_isolated(routes: list[Any], kind: str) -> None:
    assert route_table_kind(table("rtb-1", *routes)) == kind


def test_subnets_without_an_explicit_association_use_the_vpcs_main_table() -> None:
    # GIVEN a main table routing to a NAT gateway, and an explicit public table for one subnet
    subnets = [
        {"SubnetId": "subnet-0a000001", "VpcId": VPC, "AvailabilityZone": "eu-west-1a"},
        {"SubnetId": "subnet-0b000001", "VpcId": VPC, "AvailabilityZone": "eu-west-1b"},
    ]
    tables = [
        table("rtb-main", default_via(NatGatewayId="nat-0abc"), main=True),
        table("rtb-public", default_via(GatewayId="igw-0abc"), subnets=("subnet-0a000001",)),
    ]
    # WHEN classified
    facts = classify_subnets(subnets, tables)
    # THEN the associated subnet follows its table and the other falls back to the main one
    assert facts["subnet-0a000001"] == SubnetFacts(
        "subnet-0a000001", VPC, "eu-west-1a", "public", "rtb-public"
    )
    assert facts["subnet-0b000001"] == SubnetFacts(
        "subnet-0b000001", VPC, "eu-west-1b", "private", "rtb-main"
    )


def test_another_vpcs_main_table_is_never_used() -> None:
    other_main = {**table("rtb-other", default_via(GatewayId="igw-0abc"), main=True), "VpcId": OTHER_VPC}
    subnet = {"SubnetId": "subnet-0b000001", "VpcId": VPC, "AvailabilityZone": "eu-west-1b"}
    with pytest.raises(ValueError, match="describe the route tables"):
        classify_subnets([subnet], [other_main])


# --------------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------------

PUBLIC = {"subnet-0a000001": "eu-west-1a", "subnet-0a000002": "eu-west-1b"}
PRIVATE = {"subnet-0b000001": "eu-west-1a", "subnet-0b000002": "eu-west-1b"}
ISOLATED = {"subnet-0c000001": "eu-west-1a", "subnet-0c000002": "eu-west-1b"}


def account_facts() -> dict[str, SubnetFacts]:
    facts: dict[str, SubnetFacts] = {}
    for kind, subnets in (("public", PUBLIC), ("private", PRIVATE), ("isolated", ISOLATED)):
        for subnet_id, az in subnets.items():
            facts[subnet_id] = SubnetFacts(subnet_id, VPC, az, kind, f"rtb-{kind}")  # type: ignore[arg-type]
    return facts


def existing_spec(**overrides: Any) -> StackSpec:
    network = {
        "mode": "existing",
        "vpc_id": VPC,
        "public_subnet_ids": list(PUBLIC),
        "private_subnet_ids": list(PRIVATE),
        "isolated_subnet_ids": list(ISOLATED),
    }
    network.update(overrides.pop("network", {}))
    return StackSpec.model_validate(
        {
            "connection_id": "conn_0123456789abcdefghijklmnop",
            "region": "eu-west-1",
            "name": "shop",
            "stage": "prod",
            "container": {"image": "nginx:1.27"},
            "network": network,
            "database": {},
            **overrides,
        }
    )


def test_a_well_formed_existing_vpc_has_no_problems() -> None:
    assert validate_existing_network(existing_spec(), account_facts()) == []


def test_a_new_vpc_spec_needs_no_facts() -> None:
    spec = StackSpec.model_validate(
        {
            "connection_id": "conn_0123456789abcdefghijklmnop",
            "region": "eu-west-1",
            "name": "shop",
            "stage": "prod",
            "container": {"image": "nginx:1.27"},
        }
    )
    assert validate_existing_network(spec, {}) == []


@pytest.mark.parametrize(
    ("network", "spec_overrides", "facts_change", "expected"),
    [
        pytest.param(
            {"private_subnet_ids": ["subnet-0b000001", "subnet-0b0000ff"]},
            {},
            {},
            [
                NetworkProblem("network.private_subnet_ids", "subnet-0b0000ff was not found in eu-west-1"),
                NetworkProblem(
                    "network.private_subnet_ids",
                    "the app (ECS instances and tasks) needs at least 2 private subnets in distinct "
                    "availability zones (usable ones cover 1)",
                ),
            ],
            id="missing subnet",
        ),
        pytest.param(
            {},
            {},
            {"subnet-0c000002": {"vpc_id": OTHER_VPC}},
            [
                NetworkProblem(
                    "network.isolated_subnet_ids", f"subnet-0c000002 is in {OTHER_VPC}, not {VPC}"
                ),
                NetworkProblem(
                    "network.isolated_subnet_ids",
                    "a database needs at least 2 isolated subnets in distinct availability zones "
                    "(usable ones cover 1)",
                ),
            ],
            id="subnet of another VPC",
        ),
        pytest.param(
            {
                "isolated_subnet_ids": ["subnet-0c000001", "subnet-0a000002"],
                "public_subnet_ids": ["subnet-0a000001"],
            },
            {"front_door": "api_gateway"},
            {},
            [
                NetworkProblem(
                    "network.isolated_subnet_ids",
                    "subnet-0a000002 is public (route table rtb-public), but isolated_subnet_ids needs "
                    "isolated subnets: it has no default route",
                ),
                NetworkProblem(
                    "network.isolated_subnet_ids",
                    "a database needs at least 2 isolated subnets in distinct availability zones "
                    "(usable ones cover 1)",
                ),
            ],
            id="public subnet given as isolated",
        ),
        pytest.param(
            {},
            {},
            {"subnet-0c000002": {"availability_zone": "eu-west-1a"}},
            [
                NetworkProblem(
                    "network.isolated_subnet_ids",
                    "a database needs at least 2 isolated subnets in distinct availability zones "
                    "(usable ones cover 1)",
                )
            ],
            id="database subnets in one AZ",
        ),
        pytest.param(
            {"public_subnet_ids": ["subnet-0a000001"]},
            {},
            {},
            [
                NetworkProblem(
                    "network.public_subnet_ids",
                    "an ALB needs at least 2 public subnets in distinct availability zones "
                    "(usable ones cover 1)",
                ),
                NetworkProblem(
                    "network.public_subnet_ids",
                    "no public subnet in eu-west-1b, where private subnets run tasks: "
                    "the ALB would never send them traffic",
                ),
            ],
            id="ALB in one AZ",
        ),
        pytest.param(
            {"private_subnet_ids": ["subnet-0b000001", "subnet-0b000002", "subnet-0b000003"]},
            {},
            {"subnet-0b000003": {"availability_zone": "eu-west-1c", "kind": "private"}},
            [
                NetworkProblem(
                    "network.public_subnet_ids",
                    "no public subnet in eu-west-1c, where private subnets run tasks: "
                    "the ALB would never send them traffic",
                )
            ],
            id="tasks in an AZ the ALB does not serve",
        ),
        pytest.param(
            {"private_subnet_ids": ["subnet-0c000001", "subnet-0c000002"], "isolated_subnet_ids": []},
            {"database": None},
            {},
            [
                NetworkProblem(
                    "network.private_subnet_ids",
                    f"{s} is isolated (route table rtb-isolated), but private_subnet_ids needs private "
                    "subnets: its default route goes through a NAT or another forwarding target",
                )
                for s in ("subnet-0c000001", "subnet-0c000002")
            ]
            + [
                NetworkProblem(
                    "network.private_subnet_ids",
                    "the app (ECS instances and tasks) needs at least 2 private subnets in distinct "
                    "availability zones (usable ones cover 0)",
                )
            ],
            id="app in isolated subnets",
        ),
        pytest.param(
            {"public_subnet_ids": [], "isolated_subnet_ids": []},
            {"front_door": "api_gateway", "database": None},
            {},
            [],
            id="api gateway without database needs private subnets only",
        ),
    ],
)
def test_each_rule_reports_the_field_and_the_reason(
    network: dict[str, Any],
    spec_overrides: dict[str, Any],
    facts_change: dict[str, dict[str, str]],
    expected: list[NetworkProblem],
) -> None:
    # GIVEN the account's facts, changed where the case says
    facts = account_facts()
    for subnet_id, change in facts_change.items():
        base = facts.get(subnet_id) or SubnetFacts(subnet_id, VPC, "eu-west-1a", "private", "rtb-private")
        facts[subnet_id] = SubnetFacts(**{**base.__dict__, **change})  # type: ignore[arg-type]
    # WHEN a spec naming those subnets is checked
    problems = validate_existing_network(existing_spec(network=network, **spec_overrides), facts)
    # THEN exactly these problems come back, each naming its field
    assert problems == expected
