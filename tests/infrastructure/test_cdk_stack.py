"""The synthesized CDK app against ``infra/definitions/``, the pynamodb models and the gates.

One synthesis per session (conftest); every test reads the templates it produced.
"""

from __future__ import annotations

import fnmatch
import importlib
import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from functions.shared.logic.customer_names import deploy_role_arn
from infra import layer
from infra.definitions import (
    FUNCTIONS,
    HOME_REGION,
    REPO_ROOT,
    ROUTES,
    SCHEDULES,
    STATE_MACHINES,
    SUPPORTED_REGIONS,
    TABLES,
    TOPICS,
    Grant,
    asl_placeholders,
)
from tests.infrastructure.synthesis import Synthesis

pytestmark = pytest.mark.xdist_group("cdk")

BOILERPLATE = re.compile(
    r"^\W*(n/?a|none|todo|tbd|fixme|ok|fine|suppress(ed)?|ignored?|acknowledged|by design|as designed|"
    r"intended|not (needed|required|applicable|relevant)|false positive|known issue|see above)\W*$",
    re.IGNORECASE,
)


# --- template helpers -----------------------------------------------------------------------------


def resources(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == cfn_type}


def one(template: dict[str, Any], cfn_type: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (logical_id, r)
        for logical_id, r in resources(template, cfn_type).items()
        if all(r["Properties"].get(k) == v for k, v in properties.items())
    ]
    assert len(found) == 1, f"expected one {cfn_type} with {properties}, found {len(found)}"
    return found[0]


def statements_of_role(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    role = template["Resources"][role_id]
    statements = [s for p in role["Properties"].get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def allowed(statements: list[dict[str, Any]], action: str) -> list[Any]:
    """Every resource that ``action`` is allowed on."""
    out: list[Any] = []
    for s in statements:
        actions = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
        if s["Effect"] == "Allow" and action in actions:
            out += s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
    return out


def function_id(synthesis: Synthesis, key: str) -> str:
    logical_id, _ = one(synthesis.home, "AWS::Lambda::Function", FunctionName=synthesis.names.function(key))
    return logical_id


def role_of_function(synthesis: Synthesis, key: str) -> str:
    fn = synthesis.home["Resources"][function_id(synthesis, key)]
    return fn["Properties"]["Role"]["Fn::GetAtt"][0]


def flatten(value: Any) -> str:
    """A CloudFormation value (Fn::Join / Fn::Sub / Ref) as one comparable string."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        return value["Fn::Join"][0].join(flatten(v) for v in value["Fn::Join"][1])
    if "Fn::Sub" in value:
        return value["Fn::Sub"]
    if "Ref" in value:
        return "${" + value["Ref"] + "}"
    if "Fn::GetAtt" in value:
        return "${" + ".".join(value["Fn::GetAtt"]) + "}"
    raise AssertionError(f"unexpected value {value}")


# --- gates ----------------------------------------------------------------------------------------


def test_cdk_nag_reports_no_unacknowledged_finding(synthesis: Synthesis) -> None:
    report = synthesis.validation_report()
    violations = [
        (plugin["pluginName"], v["ruleName"], c["constructPath"])
        for plugin in report["pluginReports"]
        for v in plugin.get("violations", [])
        for c in v["violatingConstructs"]
    ]
    assert synthesis.error is None and not violations, "\n".join(map(str, violations)) or synthesis.error
    assert {p["pluginName"] for p in report["pluginReports"]} == {"AwsSolutions", "Serverless"}


def test_every_acknowledgment_has_a_real_reason(synthesis: Synthesis) -> None:
    acknowledgments = synthesis.acknowledgments
    assert acknowledgments
    for ack in acknowledgments:
        assert len(ack.reason) >= 20 and not BOILERPLATE.match(ack.reason), (
            f"{ack.path}: {ack.rule}: {ack.reason!r}"
        )
    # A reason shared by several rules must state one fact about the same constructs (e.g. a DLQ
    # that two packs flag); a sentence pasted under unrelated rules elsewhere is boilerplate.
    places: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for ack in acknowledgments:
        places[ack.reason][ack.rule].add(ack.path)
    for reason, by_rule in places.items():
        assert len({frozenset(paths) for paths in by_rule.values()}) == 1, f"reused across rules: {reason!r}"


def test_every_acknowledgment_matches_a_finding(synthesis: Synthesis) -> None:
    used = {
        (v["acknowledgedAt"], v["acknowledgedId"])
        for plugin in synthesis.validation_report()["pluginReports"]
        for v in plugin.get("suppressedViolations", [])
    }
    stale = [(a.path, a.rule) for a in synthesis.acknowledgments if (a.path, a.rule) not in used]
    assert not stale, f"acknowledgments that no finding needs: {stale}"


# --- functions ------------------------------------------------------------------------------------


def test_every_function_definition_is_one_lambda_with_its_handler_and_environment(
    synthesis: Synthesis,
) -> None:
    from infra.constructs.service_function import powertools_environment

    assert len(resources(synthesis.home, "AWS::Lambda::Function")) == len(FUNCTIONS)
    for fn in FUNCTIONS:
        props = synthesis.home["Resources"][function_id(synthesis, fn.key)]["Properties"]
        assert props["Handler"] == fn.handler
        assert set(props["Environment"]["Variables"]) == set(fn.env) | set(powertools_environment(fn))
        assert props["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == fn.domain
        assert props["Runtime"] == f"python{layer.LAMBDA_PYTHON}"
        assert props["Architectures"] == [layer.LAMBDA_ARCHITECTURE]
        assert props["Timeout"] == fn.timeout_seconds and props["MemorySize"] == fn.memory_mb
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["LoggingConfig"]["LogFormat"] == "JSON"
        assert props["ReservedConcurrentExecutions"] > 0
        assert len(props["Layers"]) == 1


def test_function_logs_are_encrypted_and_expire(synthesis: Synthesis) -> None:
    for fn in FUNCTIONS:
        props = synthesis.home["Resources"][function_id(synthesis, fn.key)]["Properties"]
        log_group = synthesis.home["Resources"][props["LoggingConfig"]["LogGroup"]["Ref"]]["Properties"]
        assert log_group["RetentionInDays"] > 0 and "KmsKeyId" in log_group


def test_function_asset_holds_only_the_functions_package() -> None:
    import aws_cdk as cdk

    from infra.constructs.service_function import FUNCTION_ASSET_EXCLUDE

    strategy = cdk.IgnoreStrategy.git(str(REPO_ROOT), list(FUNCTION_ASSET_EXCLUDE))

    def excluded(path: Path) -> bool:  # as CDK's copy and fingerprint walk: whole directories first
        return strategy.completely_ignores(str(path)) if path.is_dir() else strategy.ignores(str(path))

    for entry in REPO_ROOT.iterdir():
        assert excluded(entry) == (entry.name != "functions"), entry.name
    for path in (REPO_ROOT / "functions").rglob("*"):
        assert excluded(path) == ("__pycache__" in path.parts or path.suffix == ".pyc"), path
    assert strategy.completely_ignores(str(REPO_ROOT / "functions" / "shared" / "__pycache__"))


# --- tables ---------------------------------------------------------------------------------------


def _model(dotted: str) -> Any:
    module, _, name = dotted.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _keys(key_schema: list[dict[str, str]]) -> dict[str, str]:
    return {k["KeyType"]: k["AttributeName"] for k in key_schema}


def test_every_table_has_its_models_key_schema_indexes_and_ttl(synthesis: Synthesis) -> None:
    from pynamodb.attributes import TTLAttribute

    assert len(resources(synthesis.home, "AWS::DynamoDB::Table")) == len(TABLES)
    for table in TABLES:
        model = _model(table.model)
        schema = model._get_schema()
        _, resource = one(synthesis.home, "AWS::DynamoDB::Table", TableName=synthesis.names.table(table.key))
        props = resource["Properties"]
        assert _keys(props["KeySchema"]) == _keys(schema["key_schema"])
        types = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        for a in schema["attribute_definitions"]:
            assert types[a["AttributeName"]] == a["AttributeType"]
        indexes = {i["IndexName"]: i for i in props.get("GlobalSecondaryIndexes", [])}
        assert set(indexes) == {i["index_name"] for i in schema["global_secondary_indexes"]}
        for index in schema["global_secondary_indexes"]:
            built = indexes[index["index_name"]]
            assert _keys(built["KeySchema"]) == _keys(index["key_schema"])
            assert built["Projection"]["ProjectionType"] == index["projection"]["ProjectionType"]
            for a in index["attribute_definitions"]:
                assert types[a["AttributeName"]] == a["AttributeType"]
        ttl = [a.attr_name for a in model.get_attributes().values() if isinstance(a, TTLAttribute)]
        if ttl:
            assert props["TimeToLiveSpecification"] == {"AttributeName": ttl[0], "Enabled": True}
        else:
            assert "TimeToLiveSpecification" not in props
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
        assert props["SSESpecification"]["SSEType"] == "KMS" and "KMSMasterKeyId" in props["SSESpecification"]
        assert props["DeletionProtectionEnabled"] is True


# --- state machines -------------------------------------------------------------------------------


def _state_machine(synthesis: Synthesis, key: str) -> dict[str, Any]:
    _, resource = one(
        synthesis.home,
        "AWS::StepFunctions::StateMachine",
        StateMachineName=synthesis.names.state_machine(key),
    )
    return resource["Properties"]


@pytest.mark.parametrize("machine", STATE_MACHINES, ids=lambda sm: sm.key)
def test_asl_placeholders_equal_the_definition_substitutions(synthesis: Synthesis, machine: Any) -> None:
    props = _state_machine(synthesis, machine.key)
    assert asl_placeholders(machine) == set(machine.function_substitutions)
    assert set(props["DefinitionSubstitutions"]) == asl_placeholders(machine)
    for placeholder, fn_key in machine.function_substitutions.items():
        assert props["DefinitionSubstitutions"][placeholder] == {
            "Fn::GetAtt": [function_id(synthesis, fn_key), "Arn"]
        }
    assert json.loads(props["DefinitionString"]) == json.loads(machine.asl_path.read_text())


@pytest.mark.parametrize("machine", STATE_MACHINES, ids=lambda sm: sm.key)
def test_state_machine_may_invoke_every_substituted_function(synthesis: Synthesis, machine: Any) -> None:
    props = _state_machine(synthesis, machine.key)
    statements = statements_of_role(synthesis.home, props["RoleArn"]["Fn::GetAtt"][0])
    invocable = allowed(statements, "lambda:InvokeFunction")
    for fn_key in machine.function_substitutions.values():
        assert {"Fn::GetAtt": [function_id(synthesis, fn_key), "Arn"]} in invocable, fn_key


@pytest.mark.parametrize("machine", STATE_MACHINES, ids=lambda sm: sm.key)
def test_state_machine_never_logs_execution_data(synthesis: Synthesis, machine: Any) -> None:
    props = _state_machine(synthesis, machine.key)
    assert props["StateMachineType"] == "STANDARD"
    assert props["LoggingConfiguration"]["Level"] == "ERROR"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is False
    assert props["TracingConfiguration"] == {"Enabled": True}
    destination = props["LoggingConfiguration"]["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"]
    log_group = synthesis.home["Resources"][destination["Fn::GetAtt"][0]]["Properties"]
    assert "KmsKeyId" in log_group and log_group["RetentionInDays"] > 0


@pytest.mark.parametrize("machine", STATE_MACHINES, ids=lambda sm: sm.key)
def test_callers_may_resume_and_grants_start_and_stop(synthesis: Synthesis, machine: Any) -> None:
    logical_id, _ = one(
        synthesis.home,
        "AWS::StepFunctions::StateMachine",
        StateMachineName=synthesis.names.state_machine(machine.key),
    )
    for caller in machine.callers:
        statements = statements_of_role(synthesis.home, role_of_function(synthesis, caller))
        resumable = allowed(statements, "states:SendTaskSuccess")
        by_name = f":stateMachine:{synthesis.names.state_machine(machine.key)}"
        # by reference, or by the ARN built from its name (a function the machine invokes must)
        assert {"Ref": logical_id} in resumable or any(flatten(r).endswith(by_name) for r in resumable), (
            caller
        )
    for fn in FUNCTIONS:
        statements = statements_of_role(synthesis.home, role_of_function(synthesis, fn.key))
        starts = {"Ref": logical_id} in allowed(statements, "states:StartExecution")
        assert starts == (Grant(f"state_machine:{machine.key}", "start") in fn.grants), fn.key
        stops = any(
            f":execution:{synthesis.names.state_machine(machine.key)}:*" in flatten(r)
            for r in allowed(statements, "states:StopExecution")
        )
        assert stops == (Grant(f"state_machine:{machine.key}", "stop") in fn.grants), fn.key


# --- API ------------------------------------------------------------------------------------------


def _resource_paths(template: dict[str, Any]) -> dict[str, str]:
    """API Gateway resource logical id -> full path."""
    api_resources = resources(template, "AWS::ApiGateway::Resource")
    paths: dict[str, str] = {}

    def path(logical_id: str) -> str:
        if logical_id not in paths:
            parent = api_resources[logical_id]["Properties"]["ParentId"]
            prefix = "" if "Fn::GetAtt" in parent else path(parent["Ref"])
            paths[logical_id] = f"{prefix}/{api_resources[logical_id]['Properties']['PathPart']}"
        return paths[logical_id]

    for logical_id in api_resources:
        path(logical_id)
    return paths


def test_every_route_exists_on_the_rest_api_behind_the_authorizer(synthesis: Synthesis) -> None:
    template = synthesis.home
    authorizer_id, authorizer = one(template, "AWS::ApiGateway::Authorizer")
    assert authorizer["Properties"]["Type"] == "REQUEST"
    assert authorizer["Properties"]["IdentitySource"] == "method.request.header.Authorization"
    assert authorizer["Properties"]["AuthorizerResultTtlInSeconds"] == 0
    assert function_id(synthesis, "tenancy-authorizer") in json.dumps(
        authorizer["Properties"]["AuthorizerUri"]
    )

    by_path = {p: logical_id for logical_id, p in _resource_paths(template).items()}
    methods = resources(template, "AWS::ApiGateway::Method")
    assert len(methods) == len(ROUTES)
    for route in ROUTES:
        (method,) = [
            m["Properties"]
            for m in methods.values()
            if m["Properties"]["HttpMethod"] == route.method
            and m["Properties"]["ResourceId"] == {"Ref": by_path[route.path]}
        ]
        assert method["AuthorizationType"] == ("CUSTOM" if route.authorized else "NONE")
        if route.authorized:
            assert method["AuthorizerId"] == {"Ref": authorizer_id}
            assert method["RequestParameters"]["method.request.header.Authorization"] is True
        assert method["Integration"]["Type"] == "AWS_PROXY"
        assert function_id(synthesis, route.function) in json.dumps(method["Integration"]["Uri"])
        assert "RequestValidatorId" in method


def test_api_stage_logs_json_throttles_and_traces(synthesis: Synthesis) -> None:
    _, stage = one(synthesis.home, "AWS::ApiGateway::Stage")
    props = stage["Properties"]
    assert json.loads(props["AccessLogSetting"]["Format"])["requestId"] == "$context.requestId"
    assert props["TracingEnabled"] is True
    (defaults,) = [m for m in props["MethodSettings"] if m["HttpMethod"] == "*" and m["ResourcePath"] == "/*"]
    assert defaults["ThrottlingRateLimit"] > 0 and defaults["ThrottlingBurstLimit"] > 0
    assert defaults["DataTraceEnabled"] is False
    one(synthesis.home, "AWS::ApiGateway::Account")


# --- callback topics ------------------------------------------------------------------------------


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.key)
def test_callback_topic_exists_in_every_supported_region(synthesis: Synthesis, topic: Any) -> None:
    by_region = {
        synthesis.regions[name]: template
        for name, template in synthesis.templates.items()
        if name != synthesis.home_stack and resources(template, "AWS::SNS::Topic")
    }
    assert set(by_region) == set(topic.regions) == set(SUPPORTED_REGIONS)
    subscriber = synthesis.names.function(topic.subscriber)
    for region, template in by_region.items():
        topic_id, sns_topic = one(template, "AWS::SNS::Topic", TopicName=synthesis.names.callback_topic)
        assert "KmsMasterKeyId" in sns_topic["Properties"]
        _, subscription = one(template, "AWS::SNS::Subscription", TopicArn={"Ref": topic_id})
        assert subscription["Properties"]["Protocol"] == "lambda"
        endpoint = flatten(subscription["Properties"]["Endpoint"])
        assert endpoint == f"arn:aws:lambda:{HOME_REGION}:${{AWS::AccountId}}:function:{subscriber}", region
        assert "deadLetterTargetArn" in subscription["Properties"]["RedrivePolicy"]
        _, policy = one(template, "AWS::SNS::TopicPolicy")
        statements = policy["Properties"]["PolicyDocument"]["Statement"]
        (publish,) = [s for s in statements if s["Effect"] == "Allow" and s["Action"] == "sns:Publish"]
        assert publish["Principal"] == {"AWS": "*"} and publish["Resource"] == {"Ref": topic_id}
        assert any(
            s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
            for s in statements
        )


@pytest.mark.parametrize("topic", TOPICS, ids=lambda t: t.key)
def test_every_regions_topic_may_invoke_the_subscriber(synthesis: Synthesis, topic: Any) -> None:
    subscriber = function_id(synthesis, topic.subscriber)
    sources = {
        flatten(p["Properties"]["SourceArn"])
        for p in resources(synthesis.home, "AWS::Lambda::Permission").values()
        if p["Properties"]["FunctionName"] == {"Fn::GetAtt": [subscriber, "Arn"]}
        and p["Properties"]["Principal"] == "sns.amazonaws.com"
    }
    expected = {
        f"arn:aws:sns:{r}:${{AWS::AccountId}}:{synthesis.names.callback_topic}" for r in topic.regions
    }
    assert sources == expected


# --- asynchronous edges ---------------------------------------------------------------------------


def test_every_asynchronous_edge_retries_then_dead_letters(synthesis: Synthesis) -> None:
    home = synthesis.home
    for logical_id, fn in resources(home, "AWS::Lambda::Function").items():
        queue = fn["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
        assert "KmsMasterKeyId" in home["Resources"][queue]["Properties"], logical_id
    configs = {
        c["Properties"]["FunctionName"]["Ref"]: c["Properties"]
        for c in resources(home, "AWS::Lambda::EventInvokeConfig").values()
    }
    assert set(configs) == set(resources(home, "AWS::Lambda::Function"))
    assert all(0 < c["MaximumRetryAttempts"] <= 2 for c in configs.values())
    for template in synthesis.templates.values():
        for rule in resources(template, "AWS::Events::Rule").values():
            for target in rule["Properties"].get("Targets", []):
                assert "DeadLetterConfig" in target and "RetryPolicy" in target, target["Id"]
        for subscription in resources(template, "AWS::SNS::Subscription").values():
            assert "RedrivePolicy" in subscription["Properties"]


# --- roles ----------------------------------------------------------------------------------------


def test_customer_assumer_role_is_assumable_only_by_functions_granted_it(synthesis: Synthesis) -> None:
    role_id, role = one(synthesis.home, "AWS::IAM::Role", RoleName=synthesis.names.customer_assumer_role)
    principals = [s["Principal"]["AWS"] for s in role["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
    principals = [p for group in principals for p in (group if isinstance(group, list) else [group])]
    granted = [f.key for f in FUNCTIONS if Grant("assumer_role", "assume") in f.grants]
    assert sorted(principals, key=json.dumps) == sorted(
        ({"Fn::GetAtt": [role_of_function(synthesis, k), "Arn"]} for k in granted), key=json.dumps
    )
    (pattern,) = allowed(statements_of_role(synthesis.home, role_id), "sts:AssumeRole")
    # every deploy role the onboarding template creates, in any account, and nothing else
    assert pattern == "arn:aws:iam::*:role/stackpilot-connection/stackpilot-deploy-*"
    assert fnmatch.fnmatchcase(deploy_role_arn("111111111111", "conn_" + "a" * 26), pattern)
    for fn in FUNCTIONS:
        assumes = {"Fn::GetAtt": [role_id, "Arn"]} in allowed(
            statements_of_role(synthesis.home, role_of_function(synthesis, fn.key)), "sts:AssumeRole"
        )
        assert assumes == (fn.key in granted), fn.key


# --- scanners (started at synthesis, so last) ------------------------------------------------


def test_cfn_lint_reports_no_error(synthesis: Synthesis) -> None:
    returncode, stdout, stderr = synthesis.scans["cfn-lint"].result()
    assert returncode == 0, stdout + stderr


def _checkov_results(synthesis: Synthesis, outcome: str) -> list[dict[str, Any]]:
    assert "checkov" in synthesis.scans, "checkov not installed: `make install` creates .venv-checkov"
    _, stdout, stderr = synthesis.scans["checkov"].result()
    reports = json.loads(stdout) if stdout.strip() else []
    reports = reports if isinstance(reports, list) else [reports]
    assert any(r.get("summary", {}).get("passed", 0) > 0 for r in reports), stderr
    return [c for r in reports for c in r.get("results", {}).get(outcome, [])]


def test_checkov_reports_no_failed_check(synthesis: Synthesis) -> None:
    failed = [
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}"
        for c in _checkov_results(synthesis, "failed_checks")
    ]
    assert not failed, "\n".join(failed)


def test_every_checkov_skip_has_a_reason_and_a_check_to_skip(synthesis: Synthesis) -> None:
    skipped = {
        (c["file_path"].lstrip("/"), c["resource"].rsplit(".", 1)[1], c["check_id"])
        for c in _checkov_results(synthesis, "skipped_checks")
    }
    for name, template in synthesis.templates.items():
        for logical_id, resource in template["Resources"].items():
            for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
                assert len(skip.get("comment", "")) >= 20, f"{logical_id}: {skip}"
                assert (f"{name}.template.json", logical_id, skip["id"]) in skipped, f"stale: {skip}"


def test_the_bus_accepts_only_cloudformation_status_events_from_other_accounts(synthesis: Synthesis) -> None:
    (policy,) = [
        r["Properties"]
        for r in synthesis.home["Resources"].values()
        if r["Type"] == "AWS::Events::EventBusPolicy"
    ]
    statement = policy["Statement"]
    assert statement["Principal"] == {"AWS": "*"} and statement["Action"] == "events:PutEvents"
    assert statement["Condition"] == {
        "StringEquals": {
            "events:source": "aws.cloudformation",
            "events:detail-type": "CloudFormation Stack Status Change",
        }
    }


def test_every_schedule_is_a_rule_whose_target_retries_and_dead_letters(synthesis: Synthesis) -> None:
    rules = [
        r["Properties"] for r in synthesis.home["Resources"].values() if r["Type"] == "AWS::Events::Rule"
    ]
    for schedule in SCHEDULES:
        (rule,) = [r for r in rules if r.get("Name") == f"{synthesis.names.prefix}-{schedule.key}"]
        assert rule["ScheduleExpression"] == schedule.expression
        (target,) = rule["Targets"]
        if schedule.function is not None:
            assert target["Arn"] == {"Fn::GetAtt": [function_id(synthesis, schedule.function), "Arn"]}
        else:
            machine_id, _ = one(
                synthesis.home,
                "AWS::StepFunctions::StateMachine",
                StateMachineName=synthesis.names.state_machine(str(schedule.state_machine)),
            )
            assert target["Arn"] == {"Ref": machine_id}
            # the rule's own role may start this machine, and nothing else
            statements = statements_of_role(synthesis.home, target["RoleArn"]["Fn::GetAtt"][0])
            assert allowed(statements, "states:StartExecution") == [{"Ref": machine_id}]
        assert "Arn" in target["DeadLetterConfig"] and target["RetryPolicy"]["MaximumRetryAttempts"] > 0
