"""Stacks end to end in the local cloud: a connected account, a stack asked for through the API,
created in the customer's account through a change set, waited for, READY with its outputs."""

from __future__ import annotations

import json

import pytest

from infra.local.runtime import LocalStackpilot
from tests.workflows.client import Api
from tests.workflows.stack_support import connected_account, spec, wait_settled

pytestmark = [pytest.mark.workflow, pytest.mark.xdist_group("local-cloud")]

CUSTOMER = "111111111111"


@pytest.fixture(scope="module")
def connected(stackpilot: LocalStackpilot) -> tuple[Api, str]:
    return connected_account(stackpilot, "org_stacks", CUSTOMER)


def test_a_contributor_creates_a_stack_and_it_becomes_ready(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    _, connection_id = connected
    contributor = Api(stackpilot, org_id="org_stacks", role="contributor")
    # WHEN a contributor asks for a stack with a database behind an ALB
    created = contributor.request("POST", "/stacks", spec(connection_id))
    assert created.status == 202, created
    assert created.body["status"] == "CREATING"
    stack_id = created.body["stack_id"]
    # THEN it settles READY, with its outputs
    stack = wait_settled(contributor, stack_id)
    assert stack["status"] == "READY", stack
    assert stack["cfn_status"] == "CREATE_COMPLETE"
    assert stack["outputs"], stack
    # AND its history tells the story, newest first
    history = contributor.request("GET", f"/stacks/{stack_id}/events").body["items"]
    assert history[0]["kind"] == "ready" and history[-1]["kind"] == "requested"
    # AND the template it rendered is there to read
    template = contributor.request("GET", f"/stacks/{stack_id}/template")
    assert template.status == 200 and "Resources" in template.body
    # AND in the customer's account, the stack's network is there: 3 AZs
    ec2 = stackpilot.cloud.customer_client("ec2", CUSTOMER, "us-east-1")
    vpc_id = stack["outputs"]["VpcId"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert len({s["AvailabilityZone"] for s in subnets}) == 3
    # 3 public + 3 private app subnets, and (with a database) 3 isolated ones, one of each per AZ
    tiers = {
        k: set(stack["outputs"][k].split(","))
        for k in ("PublicSubnetIds", "AppSubnetIds", "DatabaseSubnetIds")
    }
    assert {s["SubnetId"] for s in subnets} == set().union(*tiers.values()) and len(subnets) == 9
    for tier in tiers.values():
        assert len({s["AvailabilityZone"] for s in subnets if s["SubnetId"] in tier}) == 3
    # the database's subnets have no route out; the app's go through the NAT instance
    tables = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["RouteTables"]
    for table in tables:
        attached = {a.get("SubnetId") for a in table.get("Associations", [])}
        if attached & tiers["DatabaseSubnetIds"]:
            assert not [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"], table
    # AND the security groups admit exactly: the world -> ALB on 80, ALB -> app port, app -> DB 5432
    groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["SecurityGroups"]
    name = {g["GroupId"]: g["GroupName"] for g in groups}
    ingress = {
        (name[g["GroupId"]].split("-")[3], rule.get("FromPort"), source)
        for g in groups
        for rule in g["IpPermissions"]
        for source in [name.get(p["GroupId"], "?").split("-")[3] for p in rule.get("UserIdGroupPairs", [])]
        + [r["CidrIp"] for r in rule.get("IpRanges", [])]
    }
    assert ingress == {
        ("LoadBalancerSecurityGroup", 80, "0.0.0.0/0"),
        ("AppSecurityGroup", 80, "LoadBalancerSecurityGroup"),
        ("DatabaseSecurityGroup", 5432, "AppSecurityGroup"),
        ("NatSecurityGroup", None, "10.0.0.0/16"),
    }, ingress
    # AND the cluster, the internet-facing load balancer and the database in the isolated subnets
    assert stackpilot.cloud.customer_client("ecs", CUSTOMER, "us-east-1").list_clusters()["clusterArns"]
    elb = stackpilot.cloud.customer_client("elbv2", CUSTOMER, "us-east-1")
    assert [
        lb["Scheme"] for lb in elb.describe_load_balancers()["LoadBalancers"] if lb["VpcId"] == vpc_id
    ] == ["internet-facing"]
    rds = stackpilot.cloud.customer_client("rds", CUSTOMER, "us-east-1")
    (db,) = [d for d in rds.describe_db_instances()["DBInstances"] if d["DBSubnetGroup"]["VpcId"] == vpc_id]
    assert {s["SubnetIdentifier"] for s in db["DBSubnetGroup"]["Subnets"]} == tiers["DatabaseSubnetIds"]
    assert db["DeletionProtection"] is True and db["StorageEncrypted"] is True


def test_a_viewer_may_read_stacks_but_not_create_them(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    _, connection_id = connected
    viewer = Api(stackpilot, org_id="org_stacks", role="viewer")
    assert viewer.request("POST", "/stacks", spec(connection_id, name="nope")).status == 403
    assert viewer.request("GET", "/stacks").status == 200


def test_a_bad_spec_is_a_422_naming_the_field_and_creates_nothing(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    admin, connection_id = connected
    bad = spec(connection_id, name="Bad Name")
    reply = admin.request("POST", "/stacks", bad)
    assert reply.status == 422 and "name" in reply.body["message"], reply
    other_region = admin.request("POST", "/stacks", spec(connection_id, region="eu-west-1", name="elsewhere"))
    assert other_region.status == 422 and "region" in other_region.body["message"], other_region
    assert not [s for s in admin.request("GET", "/stacks").body["items"] if s["name"] in ("elsewhere",)]


def test_another_orgs_stack_is_a_404(stackpilot: LocalStackpilot, connected: tuple[Api, str]) -> None:
    admin, _ = connected
    stacks = admin.request("GET", "/stacks").body["items"]
    assert stacks
    stranger = Api(stackpilot, org_id="org_strangers", role="owner")
    assert stranger.request("GET", f"/stacks/{stacks[0]['stack_id']}").status == 404
    assert stranger.request("GET", "/stacks").body["items"] == []


def _existing_vpc(local: LocalStackpilot, *, private: bool) -> tuple[str, list[str], list[str]]:
    """A customer's own VPC: 3 public subnets, and 3 more routed through a NAT gateway (or not at all)."""
    ec2 = local.cloud.customer_client("ec2", CUSTOMER, "us-east-1")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=public_table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    zones = ["us-east-1a", "us-east-1b", "us-east-1c"]
    public, inner = [], []
    for i, zone in enumerate(zones):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=zone)["Subnet"]
        ec2.associate_route_table(RouteTableId=public_table, SubnetId=subnet["SubnetId"])
        public.append(subnet["SubnetId"])
    inner_table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    if private:
        eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
        nat = ec2.create_nat_gateway(SubnetId=public[0], AllocationId=eip)["NatGateway"]["NatGatewayId"]
        ec2.create_route(RouteTableId=inner_table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    for i, zone in enumerate(zones):
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{10 + i}.0/24", AvailabilityZone=zone)[
            "Subnet"
        ]
        ec2.associate_route_table(RouteTableId=inner_table, SubnetId=subnet["SubnetId"])
        inner.append(subnet["SubnetId"])
    return vpc, public, inner


def test_an_existing_vpc_that_cannot_host_the_stack_is_refused_with_the_reason(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    admin, connection_id = connected
    # GIVEN a VPC whose "private" subnets have no route out (they are isolated)
    vpc, public, isolated = _existing_vpc(stackpilot, private=False)
    network = {"mode": "existing", "vpc_id": vpc, "public_subnet_ids": public, "private_subnet_ids": isolated}
    # WHEN a stack is asked for with those subnets as its app tier
    reply = admin.request("POST", "/stacks", spec(connection_id, name="byo", network=network))
    # THEN it is a 422 naming the list at fault, and no stack exists
    assert reply.status == 422, reply
    assert "private_subnet_ids" in reply.body["message"], reply
    assert not [s for s in admin.request("GET", "/stacks").body["items"] if s["name"] == "byo"]
    # AND a VPC that does not exist is named too
    missing = dict(network, vpc_id="vpc-0123456789abcdef0")
    gone = admin.request("POST", "/stacks", spec(connection_id, name="byo", network=missing))
    assert gone.status == 422 and "vpc_id" in gone.body["message"], gone


def test_a_stack_goes_into_an_existing_vpc_that_can_host_it(
    stackpilot: LocalStackpilot, connected: tuple[Api, str]
) -> None:
    admin, connection_id = connected
    vpc, public, private = _existing_vpc(stackpilot, private=True)
    network = {"mode": "existing", "vpc_id": vpc, "public_subnet_ids": public, "private_subnet_ids": private}
    created = admin.request(
        "POST", "/stacks", spec(connection_id, name="byo-ok", network=network, database=None)
    )
    assert created.status == 202, created
    stack = wait_settled(admin, created.body["stack_id"])
    assert stack["status"] == "READY", (stack["reason"], stack["failure"])
    # AND the template uses the customer's subnets and makes no network of its own
    template = admin.request("GET", f"/stacks/{stack['stack_id']}/template").body
    types = {r["Type"] for r in template["Resources"].values()}
    assert "AWS::EC2::VPC" not in types and "AWS::EC2::Subnet" not in types
    text = json.dumps(template)
    assert all(subnet in text for subnet in [*public, *private])
