"""The application stack's template: network layout, exact ingress, the naming contract, secrets."""

from __future__ import annotations

import copy
import dataclasses
import ipaddress
import json
import re
from typing import Any

import pytest

from functions.shared.logic.customer_names import source_bucket_name
from functions.stacks.logic.network import SubnetFacts
from functions.stacks.logic.template import StackTemplateInput, render_stack_template, secret_name
from functions.stacks.models.spec import StackSpec, spec_without_secrets

ACCOUNT = "123456789012"
REGION = "eu-west-1"
BOUNDARY = (
    f"arn:aws:iam::{ACCOUNT}:policy/stackpilot-connection/stackpilot-boundary-0123456789abcdefghijklmnop"
)
SECRET_VALUES = {"API_TOKEN": "tok-3f9a-never-in-a-template", "SMTP_PASSWORD": "pw-77c1-never-in-a-template"}
ANYWHERE = "0.0.0.0/0"

PUBLIC = {"subnet-0a000001": "eu-west-1a", "subnet-0a000002": "eu-west-1b"}
PRIVATE = {"subnet-0b000001": "eu-west-1a", "subnet-0b000002": "eu-west-1b"}
ISOLATED = {"subnet-0c000001": "eu-west-1a", "subnet-0c000002": "eu-west-1b"}
EXISTING = {
    "mode": "existing",
    "vpc_id": "vpc-0123abcd",
    "public_subnet_ids": list(PUBLIC),
    "private_subnet_ids": list(PRIVATE),
    "isolated_subnet_ids": list(ISOLATED),
}


def spec_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "connection_id": "conn_0123456789abcdefghijklmnop",
        "region": REGION,
        "name": "shop",
        "stage": "prod",
        "container": {
            "image": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/stackpilot-shop:1.4.2",
            "port": 3000,
            "health_check_path": "/healthz",
            "env": {"LOG_LEVEL": "info"},
            "secret_env": dict(SECRET_VALUES),
        },
        "database": {},
        "bastion": {},
    }
    body.update(overrides)
    return body


def secret_arn(spec: StackSpec, name: str, suffix: str = "AbC123") -> str:
    return f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{secret_name(spec, name)}-{suffix}"


def account_facts() -> dict[str, SubnetFacts]:
    facts: dict[str, SubnetFacts] = {}
    for kind, subnets in (("public", PUBLIC), ("private", PRIVATE), ("isolated", ISOLATED)):
        for subnet_id, az in subnets.items():
            facts[subnet_id] = SubnetFacts(subnet_id, EXISTING["vpc_id"], az, kind, f"rtb-{kind}")  # type: ignore[arg-type]
    return facts


def template_input(spec: StackSpec, **overrides: Any) -> StackTemplateInput:
    fields: dict[str, Any] = {
        "spec": spec,
        "stack_name": spec.stack_name,
        "account_id": ACCOUNT,
        "permissions_boundary_arn": BOUNDARY,
        "secret_arns": {name: secret_arn(spec, name) for name in spec.container.secret_env},
        "subnets": account_facts(),
    }
    fields.update(overrides)
    return StackTemplateInput(**fields)


def render(**overrides: Any) -> dict[str, Any]:
    spec = StackSpec.model_validate(spec_body(**overrides))
    return dict(json.loads(render_stack_template(template_input(spec))))


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """The representative stack: new VPC, NAT on (default), ALB, database, bastion, secret env."""
    return render()


def of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(template["Resources"][name].get("Properties", {}))


def ref_name(value: Any) -> str:
    """The logical id behind a Ref or GetAtt (or the literal)."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    return str(value)


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *strings(v)]]
    return []


# --------------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------------


def tiers(template: dict[str, Any]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"Public": [], "App": [], "Data": []}
    for name in sorted(of_type(template, "AWS::EC2::Subnet")):
        found[next(t for t in found if name.startswith(t))].append(name)
    return found


def route_table_of(template: dict[str, Any], subnet: str) -> str:
    (table,) = [
        ref_name(a["Properties"]["RouteTableId"])
        for a in of_type(template, "AWS::EC2::SubnetRouteTableAssociation").values()
        if ref_name(a["Properties"]["SubnetId"]) == subnet
    ]
    return table


def default_route_target(template: dict[str, Any], table: str) -> str | None:
    for route in of_type(template, "AWS::EC2::Route").values():
        p = route["Properties"]
        if ref_name(p["RouteTableId"]) == table and p.get("DestinationCidrBlock") == ANYWHERE:
            return ref_name(p.get("GatewayId") or p.get("NatGatewayId") or p.get("InstanceId"))
    return None


def nat_user_data(template: dict[str, Any]) -> str:
    data = props(template, "NatLaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    return str(data[0])


def test_new_vpc_with_a_database_has_9_subnets_in_3_tiers_over_3_azs(template: dict[str, Any]) -> None:
    found = tiers(template)
    assert {tier: len(names) for tier, names in found.items()} == {"Public": 3, "App": 3, "Data": 3}
    vpc = ipaddress.IPv4Network(props(template, "Vpc")["CidrBlock"])
    cidrs = []
    for names in found.values():
        # each tier spreads over the region's first three AZs, whatever their names
        zones = [props(template, n)["AvailabilityZone"] for n in names]
        assert zones == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(3)]
        cidrs += [ipaddress.IPv4Network(props(template, n)["CidrBlock"]) for n in names]
    assert all(c.subnet_of(vpc) for c in cidrs)
    assert not any(a.overlaps(b) for i, a in enumerate(cidrs) for b in cidrs[i + 1 :])
    assert all(props(template, n)["MapPublicIpOnLaunch"] is False for names in found.values() for n in names)


def test_without_a_database_there_are_6_subnets() -> None:
    assert {t: len(n) for t, n in tiers(render(database=None)).items()} == {"Public": 3, "App": 3, "Data": 0}


def test_subnet_positions_do_not_move_when_a_database_or_nat_changes(template: dict[str, Any]) -> None:
    def cidrs(t: dict[str, Any]) -> dict[str, str]:
        return {n: props(t, n)["CidrBlock"] for n in of_type(t, "AWS::EC2::Subnet")}

    full = cidrs(template)
    for other in (render(database=None), render(nat_instance=False)):
        assert {n: c for n, c in full.items() if n in cidrs(other)} == cidrs(other)


def test_a_small_vpc_still_gets_alb_sized_public_subnets() -> None:
    t = render(network={"mode": "new", "cidr": "192.168.4.0/24"})
    sizes = {
        n: ipaddress.IPv4Network(props(t, n)["CidrBlock"]).prefixlen for n in of_type(t, "AWS::EC2::Subnet")
    }
    assert all(size <= 27 for name, size in sizes.items() if not name.startswith("Data"))  # ALB: /27 at least
    assert all(size <= 28 for size in sizes.values())  # AWS: /28 at least


def test_public_subnets_route_to_the_internet_gateway(template: dict[str, Any]) -> None:
    for subnet in tiers(template)["Public"]:
        assert default_route_target(template, route_table_of(template, subnet)) == "InternetGateway"


def test_with_nat_the_app_subnets_default_route_is_owned_by_the_nat_instance(
    template: dict[str, Any],
) -> None:
    app_tables = sorted(route_table_of(template, s) for s in tiers(template)["App"])
    # no route in the template (the instance id is only known at boot)...
    assert all(default_route_target(template, table) is None for table in app_tables)
    # ...the NAT instance's boot script points exactly the app tables at itself
    script = nat_user_data(template)
    assert f"for TABLE in {' '.join('${' + t + '}' for t in app_tables)}; do" in script
    assert "replace-route" in script and "--no-source-dest-check" in script
    nat = props(template, "NatAutoScalingGroup")
    assert (nat["MinSize"], nat["MaxSize"]) == ("1", "1")
    assert [ref_name(s) for s in nat["VPCZoneIdentifier"]] == tiers(template)["Public"]
    policy = props(template, "NatRole")["Policies"][0]["PolicyDocument"]["Statement"]
    (routes,) = [s for s in policy if "ec2:ReplaceRoute" in s["Action"]]
    assert sorted(r["Fn::Sub"][1]["Table"]["Ref"] for r in routes["Resource"]) == app_tables


def test_the_database_lives_in_isolated_subnets(template: dict[str, Any]) -> None:
    group = props(template, "DatabaseSubnetGroup")
    subnets = [ref_name(s) for s in group["SubnetIds"]]
    assert subnets == tiers(template)["Data"]
    for subnet in subnets:
        table = route_table_of(template, subnet)
        assert default_route_target(template, table) is None
        assert table not in nat_user_data(template)
        assert props(template, subnet)["Tags"] == [
            {"Key": "Name", "Value": f"stackpilot-shop-prod-{subnet.lower()}"},
            {"Key": "stackpilot:subnet-kind", "Value": "isolated"},
        ]
    db = props(template, "Database")
    assert ref_name(db["DBSubnetGroupName"]) == "DatabaseSubnetGroup"
    assert db["PubliclyAccessible"] is False and db["StorageEncrypted"] is True
    assert db["DeletionProtection"] is True and db["EnableIAMDatabaseAuthentication"] is True
    assert db["BackupRetentionPeriod"] == 7 and db["CopyTagsToSnapshot"] is True
    assert "ManageMasterUserPassword" not in db  # credentials in our own stackpilot-* secret
    assert db["MasterUserPassword"] == {
        "Fn::Sub": "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}"
    }
    assert template["Resources"]["Database"]["DeletionPolicy"] == "Snapshot"


def test_without_nat_the_app_subnets_are_isolated_and_reach_aws_through_endpoints() -> None:
    t = render(nat_instance=False)
    assert not of_type(t, "AWS::AutoScaling::AutoScalingGroup").keys() & {"NatAutoScalingGroup"}
    for subnet in tiers(t)["App"]:
        assert default_route_target(t, route_table_of(t, subnet)) is None
    services = {
        props(t, n)["ServiceName"]["Fn::Sub"].rsplit(".", 1)[-1] for n in of_type(t, "AWS::EC2::VPCEndpoint")
    }
    services = {s.removeprefix("com.amazonaws.${AWS::Region}.") for s in services}
    assert {"api", "dkr", "ecs", "ecs-agent", "ecs-telemetry", "logs", "secretsmanager", "s3"} <= services
    assert {"ssm", "ssmmessages", "ec2messages"} <= services  # the bastion's Session Manager


# --------------------------------------------------------------------------------------------------
# Security groups: exactly this ingress
# --------------------------------------------------------------------------------------------------


def ingress(template: dict[str, Any]) -> set[tuple[str, str, int | str, str]]:
    """(group, protocol, port, source) for every ingress rule, wherever it is declared."""
    rules: set[tuple[str, str, int | str, str]] = set()
    for name, group in of_type(template, "AWS::EC2::SecurityGroup").items():
        assert "SecurityGroupIngress" not in group["Properties"], f"{name}: inline ingress"
    for rule in of_type(template, "AWS::EC2::SecurityGroupIngress").values():
        p = rule["Properties"]
        assert p.get("FromPort") == p.get("ToPort")
        source = (
            ref_name(p["SourceSecurityGroupId"]) if "SourceSecurityGroupId" in p else ref_name(p["CidrIp"])
        )
        rules.add((ref_name(p["GroupId"]), p["IpProtocol"], p.get("FromPort", "all"), source))
    return rules


def test_ingress_is_exactly_alb_to_app_to_db_and_bastion_to_db(template: dict[str, Any]) -> None:
    assert ingress(template) == {
        ("LoadBalancerSecurityGroup", "tcp", 80, ANYWHERE),
        ("AppSecurityGroup", "tcp", 3000, "LoadBalancerSecurityGroup"),
        ("DatabaseSecurityGroup", "tcp", 5432, "AppSecurityGroup"),
        ("DatabaseSecurityGroup", "tcp", 5432, "BastionSecurityGroup"),
        ("NatSecurityGroup", "-1", "all", "Vpc"),  # the VPC's own range (GetAtt Vpc.CidrBlock)
    }


def test_with_a_certificate_the_alb_also_admits_443_and_redirects_80() -> None:
    arn = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/0a1b2c3d-0000-4000-8000-00000000abcd"
    t = render(certificate_arn=arn, bastion=None, database=None)
    assert ingress(t) == {
        ("LoadBalancerSecurityGroup", "tcp", 80, ANYWHERE),
        ("LoadBalancerSecurityGroup", "tcp", 443, ANYWHERE),
        ("AppSecurityGroup", "tcp", 3000, "LoadBalancerSecurityGroup"),
        ("NatSecurityGroup", "-1", "all", "Vpc"),
    }
    https = props(t, "HttpsListener")
    assert https["Certificates"] == [{"CertificateArn": arn}] and https["SslPolicy"].startswith(
        "ELBSecurityPolicy-TLS13"
    )
    (redirect,) = props(t, "HttpRedirectListener")["DefaultActions"]
    assert redirect["RedirectConfig"] == {"Port": "443", "Protocol": "HTTPS", "StatusCode": "HTTP_301"}


def test_api_gateway_reaches_the_app_only_through_its_vpc_link() -> None:
    t = render(front_door="api_gateway", nat_instance=False)
    assert ingress(t) == {
        ("LoadBalancerSecurityGroup", "tcp", 80, "VpcLinkSecurityGroup"),
        ("AppSecurityGroup", "tcp", 3000, "LoadBalancerSecurityGroup"),
        ("DatabaseSecurityGroup", "tcp", 5432, "AppSecurityGroup"),
        ("DatabaseSecurityGroup", "tcp", 5432, "BastionSecurityGroup"),
        ("EndpointSecurityGroup", "tcp", 443, "Vpc"),
    }
    assert props(t, "InternalLoadBalancer")["Scheme"] == "internal"
    assert [ref_name(s) for s in props(t, "VpcLink")["SubnetIds"]] == tiers(t)["App"]
    integration = props(t, "HttpApiIntegration")
    assert (integration["ConnectionType"], ref_name(integration["IntegrationUri"])) == (
        "VPC_LINK",
        "InternalListener",
    )
    assert "AccessLogSettings" in props(t, "HttpApiStage")
    assert not of_type(t, "AWS::EC2::SecurityGroupIngress").keys() & {"LoadBalancerIngress80"}


def test_the_bastion_has_no_inbound_no_key_and_imdsv2(template: dict[str, Any]) -> None:
    data = props(template, "BastionLaunchTemplate")["LaunchTemplateData"]
    assert "KeyName" not in data and "KeyName" not in props(template, "Bastion")
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["BlockDeviceMappings"][0]["Ebs"]["Encrypted"] is True
    assert ref_name(props(template, "Bastion")["SubnetId"]) == "AppSubnet1"
    assert not [r for r in ingress(template) if r[0] == "BastionSecurityGroup"]


# --------------------------------------------------------------------------------------------------
# The naming contract of the customer's CloudFormation role
# --------------------------------------------------------------------------------------------------


def test_roles_carry_the_path_and_boundary_and_only_inline_policies(template: dict[str, Any]) -> None:
    roles = of_type(template, "AWS::IAM::Role")
    assert set(roles) == {"NatRole", "ContainerInstanceRole", "TaskExecutionRole", "TaskRole", "BastionRole"}
    for name, role in roles.items():
        p = role["Properties"]
        assert p["Path"] == "/stackpilot/", name
        assert p["PermissionsBoundary"] == BOUNDARY, name
        assert "ManagedPolicyArns" not in p and "RoleName" not in p, name
    for profile in of_type(template, "AWS::IAM::InstanceProfile").values():
        assert profile["Properties"]["Path"] == "/stackpilot/"
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert not kinds & {"AWS::IAM::ManagedPolicy", "AWS::IAM::Policy", "AWS::IAM::User", "AWS::KMS::Key"}


def test_named_resources_use_the_stack_prefix(template: dict[str, Any]) -> None:
    secrets = [p["Properties"]["Name"] for p in of_type(template, "AWS::SecretsManager::Secret").values()]
    assert secrets == ["stackpilot-shop-prod/database"]
    groups = [p["Properties"]["LogGroupName"] for p in of_type(template, "AWS::Logs::LogGroup").values()]
    assert groups and all(g.startswith("/stackpilot/shop-prod/") for g in groups)
    for group in of_type(template, "AWS::Logs::LogGroup").values():
        assert group["Properties"]["RetentionInDays"] == 365
    # bucket names are generated from the stack name (stackpilot-...)
    assert all("BucketName" not in b["Properties"] for b in of_type(template, "AWS::S3::Bucket").values())
    assert props(template, "Cluster")["ClusterName"] == "stackpilot-shop-prod"


def test_the_logs_bucket_is_private_versioned_encrypted_and_tls_only(template: dict[str, Any]) -> None:
    bucket = props(template, "LogsBucket")
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"  # what ALB access logs accept
    statements = props(template, "LogsBucketPolicy")["PolicyDocument"]["Statement"]
    (tls,) = [s for s in statements if s["Effect"] == "Deny"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} and tls["Action"] == "s3:*"
    (writer,) = [s for s in statements if s["Effect"] == "Allow"]
    assert writer["Principal"] == {"AWS": "arn:aws:iam::156460612806:root"}  # eu-west-1's ELB account


# --------------------------------------------------------------------------------------------------
# Secrets: referenced where needed, never their values
# --------------------------------------------------------------------------------------------------


def test_secret_env_arns_are_referenced_by_the_task_definition_and_its_execution_role_only(
    template: dict[str, Any],
) -> None:
    spec = StackSpec.model_validate(spec_body())
    arns = {name: secret_arn(spec, name) for name in SECRET_VALUES}
    container = props(template, "TaskDefinition")["ContainerDefinitions"][0]
    injected = {s["Name"]: s["ValueFrom"] for s in container["Secrets"]}
    assert {k: v for k, v in injected.items() if k in arns} == arns
    assert injected["PGPASSWORD"] == {"Fn::Sub": "${DatabaseSecret}:password::"}
    (readable,) = [
        s["Resource"]
        for s in props(template, "TaskExecutionRole")["Policies"][0]["PolicyDocument"]["Statement"]
        if s["Action"] == ["secretsmanager:GetSecretValue"]
    ]
    assert readable == [*arns.values(), {"Ref": "DatabaseSecret"}]
    for name, resource in template["Resources"].items():
        if name not in {"TaskDefinition", "TaskExecutionRole"}:
            assert not set(strings(resource)) & set(arns.values()), name
    assert not set(strings(template["Outputs"])) & set(arns.values())


def test_the_task_gets_the_database_through_libpq_variables(template: dict[str, Any]) -> None:
    container = props(template, "TaskDefinition")["ContainerDefinitions"][0]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["LOG_LEVEL"] == "info" and env["PGDATABASE"] == "app"
    assert env["PGHOST"] == {"Fn::GetAtt": ["Database", "Endpoint.Address"]}
    assert [e["Name"] for e in container["Environment"]] == sorted(env)
    assert {s["Name"] for s in container["Secrets"]} == {*SECRET_VALUES, "PGPASSWORD", "PGUSER"}


def test_no_secret_value_appears_anywhere() -> None:
    text = render_stack_template(template_input(StackSpec.model_validate(spec_body())))
    assert not [value for value in SECRET_VALUES.values() if value in text]


def test_rendering_is_deterministic_and_a_stored_spec_renders_the_same() -> None:
    spec = StackSpec.model_validate(spec_body())
    first = render_stack_template(template_input(spec))
    assert render_stack_template(template_input(copy.deepcopy(spec))) == first
    # the stored form has masked values; the template reads only the names
    stored = StackSpec.model_validate(spec_without_secrets(spec))
    assert render_stack_template(template_input(stored)) == first


# --------------------------------------------------------------------------------------------------
# Compute and outputs
# --------------------------------------------------------------------------------------------------


def test_the_service_is_a_replica_with_circuit_breaker_and_cpu_autoscaling(template: dict[str, Any]) -> None:
    service = props(template, "Service")
    assert service["SchedulingStrategy"] == "REPLICA" and service["DesiredCount"] == 2
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }
    assert service["NetworkConfiguration"]["AwsvpcConfiguration"]["AssignPublicIp"] == "DISABLED"
    assert [ref_name(s) for s in service["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"]] == (
        tiers(template)["App"]
    )
    target = props(template, "ServiceScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    policy = props(template, "ServiceCpuScaling")["TargetTrackingScalingPolicyConfiguration"]
    assert (
        policy["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ECSServiceAverageCPUUtilization"
    )
    assert props(template, "TargetGroup")["HealthCheckPath"] == "/healthz"
    host = props(template, "ContainerInstanceLaunchTemplate")["LaunchTemplateData"]
    assert host["ImageId"] == {"Ref": "EcsAmi"} and host["MetadataOptions"]["HttpTokens"] == "required"
    assert template["Parameters"]["EcsAmi"]["Type"] == "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>"


def test_outputs(template: dict[str, Any]) -> None:
    assert set(template["Outputs"]) == {
        "VpcId",
        "PublicSubnetIds",
        "AppSubnetIds",
        "DatabaseSubnetIds",
        "ClusterName",
        "ServiceName",
        "EndpointUrl",
        "DatabaseEndpoint",
        "DatabaseSecretArn",
        "BastionInstanceId",
        "LogGroupName",
    }


def test_an_existing_vpc_is_used_as_given() -> None:
    t = render(network=EXISTING)
    kinds = {r["Type"] for r in t["Resources"].values()}
    assert not kinds & {"AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::RouteTable", "AWS::EC2::VPCEndpoint"}
    assert "NatAutoScalingGroup" not in t["Resources"]
    assert props(t, "LoadBalancer")["Subnets"] == list(PUBLIC)
    assert props(t, "Service")["NetworkConfiguration"]["AwsvpcConfiguration"]["Subnets"] == list(PRIVATE)
    assert props(t, "DatabaseSubnetGroup")["SubnetIds"] == list(ISOLATED)
    assert props(t, "AppSecurityGroup")["VpcId"] == EXISTING["vpc_id"]
    assert t["Outputs"]["VpcId"]["Value"] == EXISTING["vpc_id"]


# --------------------------------------------------------------------------------------------------
# What the renderer refuses
# --------------------------------------------------------------------------------------------------


def _spec() -> StackSpec:
    return StackSpec.model_validate(spec_body())


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"stack_name": "stackpilot-other-prod"}, "stack_name"),
        ({"account_id": "1234"}, "account_id"),
        ({"permissions_boundary_arn": "arn:aws:iam::999999999999:policy/x"}, "permissions_boundary_arn"),
        ({"role_path": "/"}, "role_path"),
        (
            {"secret_arns": {"API_TOKEN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x-AbC123"}},
            "exactly",
        ),
        ({"secret_arns": "other-name"}, "secret_arns\\[API_TOKEN\\]"),
        ({"secret_arns": "other-account"}, "secret_arns\\[API_TOKEN\\]"),
        (
            {"account_id": "999999999999", "permissions_boundary_arn": BOUNDARY.replace(ACCOUNT, "9" * 12)},
            None,
        ),
    ],
)
def test_inputs_the_spec_cannot_check_are_refused(change: dict[str, Any], message: str | None) -> None:
    spec = _spec()
    inp = template_input(spec)
    arns = dict(inp.secret_arns)
    if change.get("secret_arns") == "other-name":
        arns["API_TOKEN"] = secret_arn(spec, "SMTP_PASSWORD")
        change = {"secret_arns": arns}
    elif change.get("secret_arns") == "other-account":
        arns["API_TOKEN"] = arns["API_TOKEN"].replace(ACCOUNT, "999999999999")
        change = {"secret_arns": arns}
    elif "account_id" in change and message is None:
        # the secrets and the ECR image belong to another account than the stack's
        message = "secret_arns|container.image"
    with pytest.raises(ValueError, match=message):
        render_stack_template(dataclasses.replace(inp, **change))


def test_an_ecr_image_of_another_account_is_refused() -> None:
    body = spec_body()
    body["container"]["image"] = f"999999999999.dkr.ecr.{REGION}.amazonaws.com/stackpilot-shop:1"
    spec = StackSpec.model_validate(body)
    with pytest.raises(ValueError, match=re.escape("container.image")):
        render_stack_template(template_input(spec))


def test_an_existing_vpc_is_rendered_only_with_facts_that_pass_validation() -> None:
    spec = StackSpec.model_validate(spec_body(network=EXISTING))
    facts = account_facts()
    facts["subnet-0c000002"] = dataclasses.replace(facts["subnet-0c000002"], kind="private")
    with pytest.raises(
        ValueError, match=re.escape("network.isolated_subnet_ids: subnet-0c000002 is private")
    ):
        render_stack_template(template_input(spec, subnets=facts))
    with pytest.raises(ValueError, match="was not found"):
        render_stack_template(template_input(spec, subnets={}))


# --------------------------------------------------------------------------------------------------
# A stack that tracks a source: what a release builds with
# --------------------------------------------------------------------------------------------------

SOURCE = {"provider": "github", "repository": "acme/shop", "branch": "main", "context": "services/web"}
BUILD_TYPES = {
    "AWS::ECR::Repository",
    "AWS::S3::Bucket",
    "AWS::S3::BucketPolicy",
    "AWS::Logs::LogGroup",
    "AWS::CodeBuild::Project",
    "AWS::IAM::Role",
}


@pytest.fixture(scope="module")
def built() -> dict[str, Any]:
    return render(source=SOURCE)


def test_without_a_source_there_is_nothing_to_build(template: dict[str, Any]) -> None:
    assert not {"ImageRepository", "SourceBucket", "BuildProject", "BuildRole"} & set(template["Resources"])
    assert not {"ImageRepositoryUri", "SourceBucketName", "BuildProjectName"} & set(template["Outputs"])


def test_a_source_adds_only_the_build_resources_and_keeps_running_the_specs_image(
    template: dict[str, Any], built: dict[str, Any]
) -> None:
    # GIVEN the same stack with and without a source
    added = {name: r["Type"] for name, r in built["Resources"].items() if name not in template["Resources"]}
    # THEN the source adds the build resources, and changes nothing else
    assert set(added) == {
        "ImageRepository",
        "SourceBucket",
        "SourceBucketPolicy",
        "BuildLogGroup",
        "BuildProject",
        "BuildRole",
    }
    assert set(added.values()) == BUILD_TYPES
    assert {k: v for k, v in built["Resources"].items() if k in template["Resources"]} == template[
        "Resources"
    ]
    (task,) = of_type(built, "AWS::ECS::TaskDefinition").values()
    assert task["Properties"]["ContainerDefinitions"][0]["Image"] == spec_body()["container"]["image"]


def test_the_repository_keeps_immutable_scanned_images_the_last_30(built: dict[str, Any]) -> None:
    repo = props(built, "ImageRepository")
    assert repo["RepositoryName"] == "stackpilot-shop-prod"
    assert repo["ImageTagMutability"] == "IMMUTABLE"
    assert repo["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repo["EncryptionConfiguration"]["EncryptionType"] in ("AES256", "KMS")
    (rule,) = json.loads(repo["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert rule["selection"] == {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": 30}
    assert rule["action"] == {"type": "expire"}


def test_the_source_bucket_is_private_versioned_encrypted_tls_only_and_expires_old_sources(
    built: dict[str, Any],
) -> None:
    bucket = props(built, "SourceBucket")
    assert bucket["BucketName"].startswith("stackpilot-shop-prod-src-") and len(bucket["BucketName"]) <= 63
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (rule,) = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["Status"] == "Enabled" and rule["ExpirationInDays"] == 30
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 30}
    (deny,) = props(built, "SourceBucketPolicy")["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny" and deny["Principal"] == "*" and deny["Action"] == "s3:*"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [{"Fn::GetAtt": ["SourceBucket", "Arn"]}, {"Fn::Sub": "${SourceBucket.Arn}/*"}]


def test_the_build_project_is_the_contract_the_release_and_local_codebuild_use(built: dict[str, Any]) -> None:
    project = props(built, "BuildProject")
    assert project["Name"] == "stackpilot-shop-prod-build"
    assert project["Source"]["Type"] == "NO_SOURCE" and project["Artifacts"] == {"Type": "NO_ARTIFACTS"}
    spec = project["Source"]["BuildSpec"]
    assert 'docker build -f "$CONTEXT/$DOCKERFILE" -t "$IMAGE_REPO_URI:$IMAGE_TAG" "$CONTEXT"' in spec
    assert 'docker push "$IMAGE_REPO_URI:$IMAGE_TAG"' in spec
    assert "aws ecr get-login-password" in spec and "docker login" in spec
    env = project["Environment"]
    assert (env["ComputeType"], env["Type"], env["Image"]) == (
        "BUILD_GENERAL1_SMALL",
        "LINUX_CONTAINER",
        "aws/codebuild/standard:7.0",
    )
    assert env["PrivilegedMode"] is True
    assert {v["Name"]: v["Value"] for v in env["EnvironmentVariables"]} == {
        "IMAGE_REPO_URI": {"Fn::GetAtt": ["ImageRepository", "RepositoryUri"]},
        "DOCKERFILE": "Dockerfile",
        "CONTEXT": "services/web",
    }
    assert project["TimeoutInMinutes"] == 30 and 5 <= project["QueuedTimeoutInMinutes"] <= 480
    assert project["LogsConfig"]["CloudWatchLogs"] == {
        "Status": "ENABLED",
        "GroupName": {"Ref": "BuildLogGroup"},
    }
    group = props(built, "BuildLogGroup")
    assert group == {"LogGroupName": "/stackpilot/codebuild/stackpilot-shop-prod", "RetentionInDays": 30}
    assert ref_name(project["ServiceRole"]) == "BuildRole"
    outputs = built["Outputs"]
    assert ref_name(outputs["ImageRepositoryUri"]["Value"]) == "ImageRepository"
    assert ref_name(outputs["SourceBucketName"]["Value"]) == "SourceBucket"
    assert ref_name(outputs["BuildProjectName"]["Value"]) == "BuildProject"


def test_the_build_role_may_read_its_sources_push_its_repository_and_write_its_logs_only(
    built: dict[str, Any],
) -> None:
    role = props(built, "BuildRole")
    # under the workload path and the boundary, assumed by CodeBuild for this project only
    assert role["Path"] == "/stackpilot/" and role["PermissionsBoundary"] == BOUNDARY
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "codebuild.amazonaws.com"}
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(
        ":project/stackpilot-shop-prod-build"
    )
    (policy,) = role["Policies"]
    grants = {
        action: [r["Fn::Sub"] if isinstance(r, dict) else r for r in s["Resource"]]
        if s["Resource"] != "*"
        else "*"
        for s in policy["PolicyDocument"]["Statement"]
        for action in s["Action"]
    }
    bucket = props(built, "SourceBucket")["BucketName"]
    assert grants.pop("s3:GetObject") == [f"arn:${{AWS::Partition}}:s3:::{bucket}/*"]
    assert grants.pop("ecr:GetAuthorizationToken") == "*"  # no resource-level permission
    assert grants.pop("logs:CreateLogStream") == grants.pop("logs:PutLogEvents")
    repository = "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/stackpilot-shop-prod"
    pushes = {a for a in grants if a.startswith("ecr:")}
    assert pushes == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:CompleteLayerUpload",
        "ecr:InitiateLayerUpload",
        "ecr:PutImage",
        "ecr:UploadLayerPart",
    }
    assert all(grants.pop(a) == [repository] for a in pushes)
    assert grants == {}  # nothing else


def test_build_resource_names_follow_the_stack_name_and_fit_aws_limits() -> None:
    # GIVEN the longest stack name a spec allows
    long = render(name="a" * 32, stage="b" * 16, source=SOURCE)
    bucket = props(long, "SourceBucket")["BucketName"]
    # THEN the bucket name is a valid S3 name that still starts with the stack prefix
    assert len(bucket) <= 63 and re.fullmatch(r"stackpilot-[a-z0-9-]+[a-z0-9]", bucket), bucket
    assert props(long, "BuildProject")["Name"] == f"stackpilot-{'a' * 32}-{'b' * 16}-build"
    # AND the same stack in another account or region gets another bucket (S3 names are global)
    names = {
        source_bucket_name("stackpilot-shop-prod", account_id=account, region=region)
        for account in (ACCOUNT, "210987654321")
        for region in (REGION, "eu-west-2")
    }
    assert len(names) == 4
