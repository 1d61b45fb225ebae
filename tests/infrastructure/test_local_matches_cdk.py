"""The local cloud and the CDK app are built from the same definitions: prove they agree.

The local cloud is started with the CDK app's stage and read back through the AWS APIs; the
synthesized templates are resolved for the same account and region; then each resource is compared.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from infra.definitions import (
    FUNCTIONS,
    HOME_REGION,
    SCHEDULES,
    STATE_MACHINES,
    SUPPORTED_REGIONS,
    TABLES,
    TOPICS,
)
from infra.local.cloud import SERVICE_ACCOUNT, LocalCloud
from tests.infrastructure.synthesis import Synthesis

pytestmark = pytest.mark.xdist_group("cdk")

# The JWT settings name the OIDC provider: the local issuer locally, the configured one in AWS.
DIFFERS_BY_DESIGN = {"JWT_ISSUER", "JWT_AUDIENCE", "JWKS_URL", "POWERTOOLS_LOG_LEVEL"}


@pytest.fixture(scope="module")
def local(synthesis: Synthesis) -> Iterator[LocalCloud]:
    cloud = LocalCloud(stage=synthesis.stage).start_in_process()
    try:
        yield cloud
    finally:
        cloud.stop()


def resolve(value: Any, template: dict[str, Any]) -> Any:
    """CloudFormation intrinsics -> strings, for the service account in the home region."""
    pseudo = {"AWS::AccountId": SERVICE_ACCOUNT, "AWS::Region": HOME_REGION, "AWS::Partition": "aws"}
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            if arg in pseudo:
                return pseudo[arg]
            props = template["Resources"][arg]["Properties"]
            return props.get("FunctionName") or props.get("TopicName") or props.get("Name") or arg
        if key == "Fn::Join":
            return arg[0].join(str(resolve(part, template)) for part in arg[1])
        if key == "Fn::Sub":
            text = arg if isinstance(arg, str) else arg[0]
            return re.sub(r"\$\{([^}]+)\}", lambda m: str(resolve({"Ref": m.group(1)}, template)), text)
        if key == "Fn::GetAtt" and arg[1] == "Arn":
            props = template["Resources"][arg[0]]["Properties"]
            return f"arn:aws:lambda:{HOME_REGION}:{SERVICE_ACCOUNT}:function:{props['FunctionName']}"
    if isinstance(value, dict):
        return {k: resolve(v, template) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, template) for v in value]
    return value


def resources(template: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in template["Resources"].values() if r["Type"] == kind]


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f.key)
def test_every_function_has_the_same_name_handler_and_environment(
    fn: Any, synthesis: Synthesis, local: LocalCloud
) -> None:
    name = local.names.function(fn.key)
    (cdk,) = [p for p in resources(synthesis.home, "AWS::Lambda::Function") if p.get("FunctionName") == name]
    here = local.client("lambda").get_function_configuration(FunctionName=name)
    assert here["Handler"] == cdk["Handler"] == fn.handler
    cdk_env = resolve(cdk["Environment"]["Variables"], synthesis.home)
    local_env = here["Environment"]["Variables"]
    assert set(local_env) == set(fn.env)
    assert set(fn.env) <= set(cdk_env)  # CDK adds Powertools' own settings
    assert {k: v for k, v in local_env.items() if k not in DIFFERS_BY_DESIGN} == {
        k: cdk_env[k] for k in local_env if k not in DIFFERS_BY_DESIGN
    }
    assert here["Timeout"] == cdk["Timeout"] == fn.timeout_seconds


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.key)
def test_every_table_has_the_same_keys_indexes_and_ttl(
    table: Any, synthesis: Synthesis, local: LocalCloud
) -> None:
    name = local.names.table(table.key)
    (cdk,) = [p for p in resources(synthesis.home, "AWS::DynamoDB::Table") if p.get("TableName") == name]
    ddb = local.client("dynamodb")
    here = ddb.describe_table(TableName=name)["Table"]
    assert here["KeySchema"] == cdk["KeySchema"]
    assert sorted(
        (i["IndexName"], json.dumps(i["KeySchema"])) for i in here.get("GlobalSecondaryIndexes", [])
    ) == sorted((i["IndexName"], json.dumps(i["KeySchema"])) for i in cdk.get("GlobalSecondaryIndexes", []))
    ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert ttl.get("AttributeName") == (cdk.get("TimeToLiveSpecification") or {}).get("AttributeName")


@pytest.mark.parametrize("sm", STATE_MACHINES, ids=lambda s: s.key)
def test_every_state_machine_runs_the_same_definition(
    sm: Any, synthesis: Synthesis, local: LocalCloud
) -> None:
    name = local.names.state_machine(sm.key)
    (cdk,) = [
        p
        for p in resources(synthesis.home, "AWS::StepFunctions::StateMachine")
        if p.get("StateMachineName") == name
    ]
    definition = resolve(cdk["DefinitionString"], synthesis.home)
    for placeholder, arn in resolve(cdk["DefinitionSubstitutions"], synthesis.home).items():
        definition = definition.replace("${" + placeholder + "}", arn)
    here = local.client("stepfunctions").describe_state_machine(
        stateMachineArn=local.names.state_machine_arn(sm.key)
    )
    assert json.loads(here["definition"]) == json.loads(definition)


@pytest.mark.parametrize("region", SUPPORTED_REGIONS)
def test_every_region_has_the_callback_topic_delivering_to_the_same_function(
    region: str, synthesis: Synthesis, local: LocalCloud
) -> None:
    (topic_def,) = TOPICS
    stack = next(n for n, r in synthesis.regions.items() if r == region and n != synthesis.home_stack)
    template = synthesis.templates[stack]
    (cdk_topic,) = resources(template, "AWS::SNS::Topic")
    (cdk_subscription,) = resources(template, "AWS::SNS::Subscription")
    sns = local.client("sns", region=region)
    arn = local.names.callback_topic_arn(region)
    endpoints = [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]]
    assert cdk_topic["TopicName"] == local.names.callback_topic
    assert (
        endpoints
        == [resolve(cdk_subscription["Endpoint"], template)]
        == [local.function_arn(topic_def.subscriber)]
    )


def test_the_bus_and_the_assumer_role_have_the_same_names(synthesis: Synthesis, local: LocalCloud) -> None:
    assert [p["Name"] for p in resources(synthesis.home, "AWS::Events::EventBus")] == [local.names.event_bus]
    local.client("events").describe_event_bus(Name=local.names.event_bus)
    role_names = [p.get("RoleName") for p in resources(synthesis.home, "AWS::IAM::Role")]
    assert local.names.customer_assumer_role in role_names
    local.client("iam").get_role(RoleName=local.names.customer_assumer_role)


def test_every_schedule_exists_on_both_sides(synthesis: Synthesis, local: LocalCloud) -> None:
    cdk_rules = {
        p["Name"]: p["ScheduleExpression"]
        for p in resources(synthesis.home, "AWS::Events::Rule")
        if "ScheduleExpression" in p
    }
    events = local.client("events")
    local_rules = {
        r["Name"]: r["ScheduleExpression"] for r in events.list_rules()["Rules"] if "ScheduleExpression" in r
    }
    assert local_rules == cdk_rules and len(cdk_rules) == len(SCHEDULES)
    for schedule in SCHEDULES:
        (target,) = events.list_targets_by_rule(Rule=f"{local.names.prefix}-{schedule.key}")["Targets"]
        assert target["Arn"] == (
            local.function_arn(schedule.function)
            if schedule.function is not None
            else local.names.state_machine_arn(str(schedule.state_machine))
        )
