"""The onboarding template: trust, least privilege, the boundary, the callback and the console link."""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from types import SimpleNamespace
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit

import pytest

from functions.accounts.logic.role_template import (
    CONTROL_PATH,
    TEMPLATE_VERSION,
    RoleTemplateInput,
    cloudformation_role_arn,
    connection_suffix,
    deploy_role_arn,
    onboarding_stack_name,
    permissions_boundary_arn,
    quick_create_url,
    render_role_template,
)
from functions.stacks.models.spec import StackSpec, secret_name

SERVICE_ACCOUNT = "111122223333"
ASSUMER = f"arn:aws:iam::{SERVICE_ACCOUNT}:role/stackpilot-prod-customer-assumer"
EXTERNAL_ID = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"  # 44 url-safe chars
NONCE = "bm9uY2Utbm9uY2Utbm9uY2U"


def make_input(region: str = "us-east-1", **overrides: str) -> RoleTemplateInput:
    fields: dict[str, str] = {
        "connection_id": "conn_3f9a1b2c4d",
        "external_id": EXTERNAL_ID,
        "nonce": NONCE,
        "region": region,
        "service_account_id": SERVICE_ACCOUNT,
        "assumer_role_arn": ASSUMER,
        "callback_topic_arn": f"arn:aws:sns:{region}:{SERVICE_ACCOUNT}:stackpilot-prod-connection-callbacks",
        "event_bus_arn": f"arn:aws:events:us-east-1:{SERVICE_ACCOUNT}:event-bus/stackpilot-prod",
        "stack_name_prefix": "stackpilot-",
    }
    fields.update(overrides)
    return RoleTemplateInput(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return json.loads(render_role_template(make_input()))


def resources_of(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in document["Statement"]}


def deploy_policy(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (policy,) = template["Resources"]["DeployRole"]["Properties"]["Policies"]
    return statements(policy["PolicyDocument"])


def cfn_role_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    role = template["Resources"]["CloudFormationRole"]["Properties"]
    merged: dict[str, dict[str, Any]] = {}
    for ref in role["ManagedPolicyArns"]:
        document = template["Resources"][ref["Ref"]]["Properties"]["PolicyDocument"]
        for sid, statement in statements(document).items():
            assert sid not in merged, f"duplicate Sid {sid}"
            merged[sid] = statement
    return merged


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def sub(value: Any) -> str:
    """The text of a Fn::Sub (or a literal string)."""
    return value["Fn::Sub"] if isinstance(value, dict) else value


# --- rendering ------------------------------------------------------------------------------------


def test_rendering_is_deterministic() -> None:
    first = render_role_template(make_input())
    assert first == render_role_template(make_input())
    assert first.encode() == render_role_template(dataclasses.replace(make_input())).encode()


def test_template_fits_a_template_body() -> None:
    # Under CloudFormation's 51,200-byte TemplateBody limit, so the local cloud (and anyone
    # without the S3 copy) can create the stack directly.
    assert len(render_role_template(make_input("ap-southeast-2")).encode()) < 51_200


def test_rendering_depends_on_the_connection() -> None:
    assert render_role_template(make_input()) != render_role_template(make_input(nonce="x" * 22))


def test_template_version(template: dict[str, Any]) -> None:
    # 2: the deploy role may write the stacks' app secrets (WriteStackSecrets); 3: it may run our
    # builds and the forwarding rule carries their state changes (test_role_template_releases.py).
    assert TEMPLATE_VERSION == "3"
    assert make_input().template_version == TEMPLATE_VERSION
    props = template["Resources"]["StackpilotConnection"]["Properties"]
    assert props["TemplateVersion"] == TEMPLATE_VERSION
    assert template["Metadata"]["stackpilot"]["TemplateVersion"] == TEMPLATE_VERSION
    assert "(template version 3)" in template["Description"]
    other = json.loads(render_role_template(make_input(template_version="4")))
    assert other["Resources"]["StackpilotConnection"]["Properties"]["TemplateVersion"] == "4"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("connection_id", "conn 1"),
        ("connection_id", ""),
        ("external_id", "short"),
        ("external_id", "A" * 42),
        ("external_id", "A" * 43 + "/"),
        ("nonce", "tiny"),
        ("region", "us_east_1"),
        ("region", "EU-WEST-1"),
        ("service_account_id", "12345"),
        ("assumer_role_arn", "arn:aws:iam::999999999999:role/stackpilot-prod-customer-assumer"),
        ("assumer_role_arn", f"arn:aws:iam::{SERVICE_ACCOUNT}:user/alice"),
        # the ServiceToken must be in the stack's region and in our account
        (
            "callback_topic_arn",
            f"arn:aws:sns:eu-west-1:{SERVICE_ACCOUNT}:stackpilot-prod-connection-callbacks",
        ),
        ("callback_topic_arn", "arn:aws:sns:us-east-1:999999999999:stackpilot-prod-connection-callbacks"),
        ("event_bus_arn", "arn:aws:events:us-east-1:999999999999:event-bus/stackpilot-prod"),
        ("event_bus_arn", "*"),
        ("stack_name_prefix", "Stackpilot-"),
        ("stack_name_prefix", "stackpilot"),
        ("stack_name_prefix", "stack*pilot-"),
        ("template_version", "1 2"),
    ],
)
def test_rejects_invalid_input(field: str, value: str) -> None:
    with pytest.raises(ValueError, match="invalid"):
        render_role_template(make_input(**{field: value}))


# --- parameters and rules -------------------------------------------------------------------------


def test_parameters_default_to_the_connection_and_are_never_noecho(template: dict[str, Any]) -> None:
    params = template["Parameters"]
    assert set(params) == {"ExternalId", "ConnectionId", "Nonce", "EnableStatusForwarding"}
    assert params["ExternalId"]["Default"] == EXTERNAL_ID
    assert params["ConnectionId"]["Default"] == "conn_3f9a1b2c4d"
    assert params["Nonce"]["Default"] == NONCE
    for name in ("ExternalId", "ConnectionId", "Nonce"):
        assert params[name]["AllowedPattern"]
        assert 0 < params[name]["MinLength"] <= len(params[name]["Default"]) <= params[name]["MaxLength"]
    assert params["ExternalId"]["MinLength"] >= 43
    assert params["EnableStatusForwarding"]["AllowedValues"] == ["true", "false"]
    assert params["EnableStatusForwarding"]["Default"] == "true"
    assert not any("NoEcho" in p for p in params.values())


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "ap-southeast-2"])
def test_rules_pin_the_region(region: str) -> None:
    template = json.loads(render_role_template(make_input(region)))
    (rule,) = template["Rules"].values()
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {"Fn::Equals": [{"Ref": "AWS::Region"}, region]}
    assert region in assertion["AssertDescription"]


# --- deploy role ----------------------------------------------------------------------------------


def test_deploy_role_trust_requires_external_id_and_our_assumer(template: dict[str, Any]) -> None:
    role = template["Resources"]["DeployRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Effect"] == "Allow"
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Principal"] == {"AWS": f"arn:aws:iam::{SERVICE_ACCOUNT}:root"}
    assert trust["Condition"] == {
        "StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}},
        "ArnEquals": {"aws:PrincipalArn": ASSUMER},
    }
    assert role["MaxSessionDuration"] == 3600
    assert role["Path"] == CONTROL_PATH


def test_deploy_role_runs_cloudformation_only_on_prefixed_stacks(template: dict[str, Any]) -> None:
    stmts = deploy_policy(template)
    stack_arn = "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/stackpilot-*/*"
    for statement in stmts.values():
        if statement["Effect"] != "Allow":
            continue
        for action in as_list(statement["Action"]):
            if not action.startswith("cloudformation:"):
                continue
            if statement["Resource"] == "*":
                # only calls that cannot be scoped, and nothing that changes a stack
                assert action in {
                    "cloudformation:GetTemplateSummary",
                    "cloudformation:ListStacks",
                    "cloudformation:ValidateTemplate",
                }
            else:
                assert [sub(r) for r in statement["Resource"]] == [stack_arn], action
    scoped_actions = set(stmts["OperateStackpilotStacks"]["Action"])
    assert {
        "cloudformation:DeleteStack",
        "cloudformation:DescribeStacks",
        "cloudformation:ExecuteChangeSet",
    } <= (scoped_actions)


def test_deploy_role_must_hand_stacks_to_the_service_role(template: dict[str, Any]) -> None:
    statement = deploy_policy(template)["ChangeStacksThroughServiceRoleOnly"]
    assert set(statement["Action"]) == {
        "cloudformation:CreateChangeSet",
        "cloudformation:CreateStack",
        "cloudformation:UpdateStack",
    }
    assert statement["Condition"] == {
        "StringEquals": {"cloudformation:RoleArn": [{"Fn::GetAtt": ["CloudFormationRole", "Arn"]}]}
    }


def test_deploy_role_passes_only_the_cloudformation_role_to_cloudformation(template: dict[str, Any]) -> None:
    passes = [s for s in deploy_policy(template).values() if "iam:PassRole" in as_list(s["Action"])]
    assert len(passes) == 1
    (statement,) = passes
    assert statement["Action"] == ["iam:PassRole"]
    assert statement["Resource"] == [{"Fn::GetAtt": ["CloudFormationRole", "Arn"]}]
    assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}


# The calls the stacks service makes on a stack's app secrets (container.secret_env), nothing more.
STACK_SECRET_ACTIONS = {
    "secretsmanager:CreateSecret",  # Name, SecretString, Tags (stack and org ids)
    "secretsmanager:TagResource",  # CreateSecret with Tags requires it too
    "secretsmanager:PutSecretValue",
    "secretsmanager:DescribeSecret",
    "secretsmanager:DeleteSecret",  # RecoveryWindowInDays=7
    "secretsmanager:RestoreSecret",  # a stack created again within that window
}
STACK_SECRETS = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:stackpilot-*"


def test_deploy_role_has_no_resource_powers_of_its_own_but_app_secrets_and_builds(
    template: dict[str, Any],
) -> None:
    allowed = {
        action
        for statement in deploy_policy(template).values()
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }
    services = {action.split(":")[0] for action in allowed}
    # codebuild, s3, ecr, logs: releases (v3), held to our builds (test_role_template_releases.py).
    assert services == {
        "cloudformation",
        "iam",
        "ec2",
        "ssm",
        "secretsmanager",
        "codebuild",
        "s3",
        "ecr",
        "logs",
    }
    assert {a for a in allowed if a.startswith("iam:")} == {"iam:PassRole"}
    assert all(a.startswith("ec2:Describe") for a in allowed if a.startswith("ec2:"))
    assert {a for a in allowed if a.startswith("ssm:")} == {"ssm:GetParameters"}
    assert {a for a in allowed if a.startswith("secretsmanager:")} == STACK_SECRET_ACTIONS
    assert not any("*" in a for a in allowed), "no wildcard actions"


def test_deploy_role_writes_the_stacks_app_secrets(template: dict[str, Any]) -> None:
    statement = deploy_policy(template)["WriteStackSecrets"]
    assert statement["Effect"] == "Allow"
    assert statement["Action"] == sorted(STACK_SECRET_ACTIONS)
    assert [sub(r) for r in statement["Resource"]] == [STACK_SECRETS]
    # Refuses CreateSecret's replicas in other regions; absent from every call the service makes.
    assert statement["Condition"] == {"Null": {"secretsmanager:AddReplicaRegions": "true"}}
    # the only statement of the deploy role naming Secrets Manager
    others = [
        sid
        for sid, s in deploy_policy(template).items()
        if sid != "WriteStackSecrets" and any(a.startswith("secretsmanager:") for a in as_list(s["Action"]))
    ]
    assert others == []


def test_deploy_role_can_never_read_share_or_rekey_a_secret(template: dict[str, Any]) -> None:
    readers = {
        "secretsmanager:GetSecretValue",
        "secretsmanager:BatchGetSecretValue",
        "secretsmanager:GetResourcePolicy",
        "secretsmanager:PutResourcePolicy",  # sharing a secret with another account reads it there
        "secretsmanager:ReplicateSecretToRegions",
        "secretsmanager:RotateSecret",
        "secretsmanager:UpdateSecret",  # could re-key it to a KMS key of somebody else's choosing
    }
    for sid, statement in deploy_policy(template).items():
        if statement["Effect"] != "Allow":
            continue
        actions = set(as_list(statement["Action"]))
        assert not actions & readers, sid
        assert not any(a.startswith("secretsmanager:") and "*" in a for a in actions), sid
        assert not any(a.startswith("kms:") for a in actions), sid


@pytest.mark.parametrize("region", ["us-east-1", "ap-southeast-2"])
def test_the_stacks_secret_names_are_in_the_write_scope_and_the_boundary(region: str) -> None:
    template = json.loads(render_role_template(make_input(region)))
    account = "444455556666"

    def resolved(resource: Any) -> str:
        text = sub(resource)
        for var, value in {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account}.items():
            text = text.replace("${" + var + "}", value)
        return text

    def covered(statement: dict[str, Any], arn: str) -> bool:
        return any(fnmatch.fnmatchcase(arn, resolved(r)) for r in as_list(statement["Resource"]))

    write = deploy_policy(template)["WriteStackSecrets"]
    # What the stacks service names a secret env value (functions/stacks/logic/template/).
    spec = cast(StackSpec, SimpleNamespace(stack_name="stackpilot-shop-prod"))
    name = secret_name(spec, "STRIPE_API_KEY")
    arn = f"arn:aws:secretsmanager:{region}:{account}:secret:{name}-AbC123"
    assert covered(write, arn)
    # ...and the stack's task execution role may read it within the boundary.
    boundary = statements(template["Resources"]["PermissionsBoundary"]["Properties"]["PolicyDocument"])
    assert "secretsmanager:GetSecretValue" in boundary["ReadOwnSecrets"]["Action"]
    assert covered(boundary["ReadOwnSecrets"], arn)
    # The boundary caps the roles stacks create, not the deploy role: nothing there can block it.
    assert "PermissionsBoundary" not in template["Resources"]["DeployRole"]["Properties"]
    # Not other secrets, other regions or other accounts.
    for other in (
        f"arn:aws:secretsmanager:{region}:{account}:secret:prod/db-AbC123",
        f"arn:aws:secretsmanager:{region}:{account}:secret:Stackpilot-shop-prod/KEY-AbC123",
        f"arn:aws:secretsmanager:eu-north-1:{account}:secret:{name}-AbC123",
        f"arn:aws:secretsmanager:{region}:999999999999:secret:{name}-AbC123",
    ):
        assert not covered(write, other), other


def test_deploy_role_can_never_touch_the_onboarding_stack_or_import(template: dict[str, Any]) -> None:
    stmts = deploy_policy(template)
    own = stmts["NeverTheOnboardingStack"]
    assert own["Effect"] == "Deny"
    assert own["Action"] == ["cloudformation:*"]
    assert {"Ref": "AWS::StackId"} in own["Resource"]
    imports = stmts["NoResourceImport"]
    assert imports["Effect"] == "Deny"
    assert imports["Condition"] == {"Null": {"cloudformation:ImportResourceTypes": "false"}}


# --- CloudFormation service role and the boundary -------------------------------------------------


def test_cloudformation_role_trusts_only_cloudformation_of_this_account(template: dict[str, Any]) -> None:
    role = template["Resources"]["CloudFormationRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert role["Path"] == CONTROL_PATH


def test_cloudformation_role_creates_roles_only_with_our_boundary(template: dict[str, Any]) -> None:
    stmts = cfn_role_statements(template)
    boundary = {"Ref": "PermissionsBoundary"}
    allow = stmts["RolesOnlyWithOurBoundary"]
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy"} <= set(allow["Action"])
    assert allow["Condition"] == {"StringEquals": {"iam:PermissionsBoundary": boundary}}
    assert [sub(r) for r in allow["Resource"]] == [
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/stackpilot/*"
    ]
    # no other Allow grants a boundary-relevant IAM action
    guarded = {
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:PutRolePermissionsBoundary",
    }
    for sid, statement in stmts.items():
        if statement["Effect"] == "Allow" and sid != "RolesOnlyWithOurBoundary":
            assert not guarded & set(as_list(statement["Action"])), sid
            assert not any(a.startswith("iam:") and "*" in a for a in as_list(statement["Action"])), sid


def test_cloudformation_role_can_never_remove_or_swap_the_boundary(template: dict[str, Any]) -> None:
    stmts = cfn_role_statements(template)
    boundary = {"Ref": "PermissionsBoundary"}
    remove = stmts["NeverRemoveBoundary"]
    assert (remove["Effect"], remove["Action"], remove["Resource"]) == (
        "Deny",
        ["iam:DeleteRolePermissionsBoundary"],
        "*",
    )
    swap = stmts["NeverAnotherBoundary"]
    assert swap["Effect"] == "Deny"
    assert "iam:PutRolePermissionsBoundary" in swap["Action"]
    assert "iam:CreateRole" in swap["Action"]
    assert swap["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": boundary}}
    edit = stmts["NeverEditBoundary"]
    assert edit["Effect"] == "Deny"
    assert set(edit["Action"]) >= {
        "iam:CreatePolicyVersion",
        "iam:DeletePolicy",
        "iam:SetDefaultPolicyVersion",
    }
    assert edit["Resource"] == [boundary]


def test_cloudformation_role_passes_only_workload_roles(template: dict[str, Any]) -> None:
    passes = [s for s in cfn_role_statements(template).values() if "iam:PassRole" in as_list(s["Action"])]
    assert len(passes) == 1
    assert [sub(r) for r in passes[0]["Resource"]] == [
        "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/stackpilot/*"
    ]
    # the control-plane roles live elsewhere, so they can never be passed or edited by stacks
    assert not CONTROL_PATH.startswith("/stackpilot/")


def test_cloudformation_role_has_no_unscoped_writes(template: dict[str, Any]) -> None:
    read_only = ("Describe", "Get", "List")
    for sid, statement in cfn_role_statements(template).items():
        if statement["Effect"] != "Allow":
            continue
        if isinstance(statement["Resource"], list):
            assert "*" not in [sub(r) for r in statement["Resource"]], sid
        else:
            for action in as_list(statement["Action"]):
                name = action.split(":")[1]
                assert name.startswith(read_only) or action in {
                    "ecs:DeregisterTaskDefinition",  # no resource-level permissions exist
                }, (sid, action)
        for action in as_list(statement["Action"]):
            assert action != "*" and not action.endswith(":*"), (sid, action)


def test_permissions_boundary_caps_workloads(template: dict[str, Any]) -> None:
    boundary = template["Resources"]["PermissionsBoundary"]
    assert boundary["Type"] == "AWS::IAM::ManagedPolicy"
    assert boundary["Properties"]["Path"] == CONTROL_PATH
    stmts = statements(boundary["Properties"]["PolicyDocument"])
    deny = stmts["NeverIdentityOrAccount"]
    assert deny["Effect"] == "Deny"
    assert set(deny["Action"]) == {"iam:*", "organizations:*", "account:*"}
    assert deny["Resource"] == "*"
    allowed = {a for s in stmts.values() if s["Effect"] == "Allow" for a in as_list(s["Action"])}
    assert {
        "logs:PutLogEvents",
        "ecr:BatchGetImage",
        "secretsmanager:GetSecretValue",
        "s3:GetObject",
    } <= allowed
    assert {"ssmmessages:OpenDataChannel", "ecr:GetAuthorizationToken"} <= allowed
    assert not any(a.startswith(("iam:", "sts:", "organizations:")) for a in allowed)
    secrets = stmts["ReadOwnSecrets"]["Resource"]
    assert all(":secret:stackpilot-*" in sub(r) or ":secret:/stackpilot/*" in sub(r) for r in secrets)


def test_deterministic_names_match_the_template(template: dict[str, Any]) -> None:
    res = template["Resources"]
    suffix = connection_suffix("conn_3f9a1b2c4d")
    assert suffix == "3f9a1b2c4d"
    assert res["DeployRole"]["Properties"]["RoleName"] == f"stackpilot-deploy-{suffix}"
    account = "444455556666"
    assert deploy_role_arn(account, "conn_3f9a1b2c4d") == (
        f"arn:aws:iam::{account}:role{CONTROL_PATH}stackpilot-deploy-{suffix}"
    )
    cfn_name = res["CloudFormationRole"]["Properties"]["RoleName"]
    assert cloudformation_role_arn(account, "conn_3f9a1b2c4d").endswith(f"role{CONTROL_PATH}{cfn_name}")
    boundary_name = res["PermissionsBoundary"]["Properties"]["ManagedPolicyName"]
    assert permissions_boundary_arn(account, "conn_3f9a1b2c4d").endswith(
        f"policy{CONTROL_PATH}{boundary_name}"
    )


def test_stackpilot_connection_ids_stay_readable_in_names() -> None:
    connection_id = "conn_" + "abcdefghijklmnopqrstuvwxyz"  # conn_ + 26 base32 characters
    assert connection_suffix(connection_id) == "abcdefghijklmnopqrstuvwxyz"
    assert len(deploy_role_arn("444455556666", connection_id).rsplit("/", 1)[1]) <= 64
    template = json.loads(render_role_template(make_input(connection_id=connection_id)))
    names = [r["Properties"].get("RoleName") for r in template["Resources"].values()]
    assert all(len(n) <= 64 for n in names if n)


@pytest.mark.parametrize(
    "connection_id", ["conn_01HZX3K9QWERTYASDFGZXCVBNM", "conn_" + "a" * 59, "Conn_ABC", "conn_a-b"]
)
def test_long_or_odd_connection_ids_get_a_hashed_iam_safe_suffix(connection_id: str) -> None:
    suffix = connection_suffix(connection_id)
    assert len(suffix) == 16
    assert suffix.isalnum()
    assert suffix != connection_suffix(connection_id.swapcase())  # IAM names ignore case
    assert len(deploy_role_arn("444455556666", connection_id).rsplit("/", 1)[1]) <= 64


def test_onboarding_stack_name_is_outside_the_managed_prefix() -> None:
    name = onboarding_stack_name("conn_3f9a1b2c4d")
    assert not name.startswith("stackpilot-")


# --- the callback -----------------------------------------------------------------------------------


def test_custom_resource_reports_the_connection(template: dict[str, Any]) -> None:
    resource = template["Resources"]["StackpilotConnection"]
    assert resource["Type"] == "Custom::StackpilotConnection"
    props = resource["Properties"]
    assert props == {
        "ServiceToken": f"arn:aws:sns:us-east-1:{SERVICE_ACCOUNT}:stackpilot-prod-connection-callbacks",
        "ServiceTimeout": 300,
        "ConnectionId": {"Ref": "ConnectionId"},
        "Nonce": {"Ref": "Nonce"},
        "RoleArn": {"Fn::GetAtt": ["DeployRole", "Arn"]},
        "AccountId": {"Ref": "AWS::AccountId"},
        "Region": {"Ref": "AWS::Region"},
        "TemplateVersion": TEMPLATE_VERSION,
    }


def test_custom_resource_depends_on_every_role_and_policy(template: dict[str, Any]) -> None:
    depends = set(template["Resources"]["StackpilotConnection"]["DependsOn"])
    iam = {
        name
        for name, resource in template["Resources"].items()
        if resource["Type"].startswith("AWS::IAM::") and "Condition" not in resource
    }
    assert iam == depends
    assert {"DeployRole", "CloudFormationRole", "PermissionsBoundary"} <= depends
    assert len([r for r in iam if template["Resources"][r]["Type"] == "AWS::IAM::ManagedPolicy"]) >= 2


# --- status forwarding ------------------------------------------------------------------------------


def test_status_forwarding_is_conditional_and_scoped(template: dict[str, Any]) -> None:
    assert template["Conditions"]["StatusForwardingEnabled"] == {
        "Fn::Equals": [{"Ref": "EnableStatusForwarding"}, "true"]
    }
    rule = template["Resources"]["StatusForwardingRule"]
    assert rule["Type"] == "AWS::Events::Rule"
    assert rule["Condition"] == "StatusForwardingEnabled"
    props = rule["Properties"]
    assert "EventBusName" not in props  # the default bus, where CloudFormation publishes
    pattern = props["EventPattern"]
    assert pattern["source"] == ["aws.cloudformation"]
    assert pattern["detail-type"] == ["CloudFormation Stack Status Change"]
    (stack_id,) = pattern["detail"]["stack-id"]
    assert sub(stack_id["prefix"]) == (
        "arn:${AWS::Partition}:cloudformation:${AWS::Region}:${AWS::AccountId}:stack/stackpilot-"
    )
    (target,) = props["Targets"]
    assert target["Arn"] == f"arn:aws:events:us-east-1:{SERVICE_ACCOUNT}:event-bus/stackpilot-prod"
    assert target["RoleArn"] == {"Fn::GetAtt": ["StatusForwardingRole", "Arn"]}

    role = template["Resources"]["StatusForwardingRole"]
    assert role["Condition"] == "StatusForwardingEnabled"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    (policy,) = role["Properties"]["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Action"] == ["events:PutEvents"]
    assert statement["Resource"] == [target["Arn"]]


def test_outputs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["DeployRoleArn"]["Value"] == {"Fn::GetAtt": ["DeployRole", "Arn"]}
    assert outputs["ConnectionId"]["Value"] == {"Ref": "ConnectionId"}


def test_control_plane_iam_stays_out_of_the_workload_path(template: dict[str, Any]) -> None:
    for name, resource in template["Resources"].items():
        if resource["Type"] in ("AWS::IAM::Role", "AWS::IAM::ManagedPolicy"):
            assert resource["Properties"]["Path"] == CONTROL_PATH, name


# --- quick-create URL --------------------------------------------------------------------------------


def test_quick_create_url_accepts_the_local_clouds_loopback_bucket() -> None:
    url = quick_create_url(
        region="us-east-1",
        template_url="http://127.0.0.1:4566/templates/t.json?X-Amz-Signature=abc",
        stack_name="StackpilotConnection-abc",
        parameters={},
    )
    assert "templateURL=http%3A%2F%2F127.0.0.1%3A4566%2Ftemplates%2Ft.json%3FX-Amz-Signature%3Dabc" in url


def test_quick_create_url_shape() -> None:
    template_url = (
        "https://stackpilot-prod-templates.s3.us-east-1.amazonaws.com/connections/conn_1/v1.json?x=1&y=2"
    )
    url = quick_create_url(
        region="eu-west-1",
        template_url=template_url,
        stack_name="StackpilotConnection-abc",
        parameters={"Nonce": NONCE, "ExternalId": EXTERNAL_ID, "ConnectionId": "conn_1 &=#"},
    )
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "eu-west-1.console.aws.amazon.com",
        "/cloudformation/home",
    )
    assert parts.query == "region=eu-west-1"
    route, _, query = parts.fragment.partition("?")
    assert route == "/stacks/quickcreate"
    pairs = parse_qsl(query, strict_parsing=True)
    assert [k for k, _ in pairs] == [
        "templateURL",
        "stackName",
        "param_ConnectionId",
        "param_ExternalId",
        "param_Nonce",
    ]
    assert dict(pairs) == {
        "templateURL": template_url,
        "stackName": "StackpilotConnection-abc",
        "param_ConnectionId": "conn_1 &=#",
        "param_ExternalId": EXTERNAL_ID,
        "param_Nonce": NONCE,
    }
    # values are fully encoded: nothing from a value can start a new parameter
    assert "x=1&y=2" not in query
    assert " " not in url


@pytest.mark.parametrize(
    "kwargs",
    [
        {"region": "us east 1"},
        {"template_url": "http://example.com/t.json"},
        {"template_url": "javascript:alert(1)"},
        {"template_url": "http://10.0.0.1:4566/templates/t.json"},
        {"template_url": "https://bucket.s3.amazonaws.com/t.json\nInjected: 1"},
        {"stack_name": "1stack"},
        {"stack_name": "stack name"},
        {"parameters": {"Bad Key": "x"}},
    ],
)
def test_quick_create_url_rejects_bad_input(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "region": "us-east-1",
        "template_url": "https://bucket.s3.amazonaws.com/t.json",
        "stack_name": "StackpilotConnection-abc",
        "parameters": {"ExternalId": EXTERNAL_ID},
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=r"invalid|https"):
        quick_create_url(**args)
