"""``ServiceFunction``: the one place that decides how a stackpilot Lambda is built.

Domain constructs pass a ``FunctionDef`` and the shared ``Platform``; permissions come later from
``apply_grants`` once every resource a grant can name exists. Everything else is a house default:
runtime and architecture (the layer's, see ``infra/layer.py``), the common layer, X-Ray, JSON logs to
an encrypted log group with retention, Powertools settings, reserved concurrency, and an encrypted
dead-letter queue with bounded retries for asynchronous invokes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra import layer
from infra.constructs import nag
from infra.constructs.dead_letters import dead_letter_queue
from infra.definitions import REPO_ROOT, RUNTIME_ENVIRONMENT, FunctionDef, Names, function_environment

RUNTIME = {
    "3.11": lambda_.Runtime.PYTHON_3_11,
    "3.12": lambda_.Runtime.PYTHON_3_12,
    "3.13": lambda_.Runtime.PYTHON_3_13,
}[layer.LAMBDA_PYTHON]
ARCHITECTURE = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}[
    layer.LAMBDA_ARCHITECTURE
]
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
METRICS_NAMESPACE = "stackpilot"
ASYNC_RETRY_ATTEMPTS = 2
ASYNC_MAX_EVENT_AGE = Duration.hours(6)
DEFAULT_RESERVED_CONCURRENCY = 10

# Handlers are dotted paths from the repository root (functions.accounts.handlers.api...), so the
# asset is the root reduced to ``functions/``: everything at the top level is excluded, then
# ``functions/`` is let back in, minus caches (whose churn would change the asset hash).
FUNCTION_ASSET_EXCLUDE = (
    "/*",
    "!/functions/",
    "__pycache__/",
    "*.pyc",
    "*.pyo",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    "tests/",
)

# Context keys an operator may set (`-c key=value`); defaults above.
CONTEXT_LAYER_DIR = "layer_dir"
CONTEXT_RESERVED_CONCURRENCY = "reserved_concurrency"


def powertools_environment(definition: FunctionDef) -> dict[str, str]:
    """What every function gets on top of the keys its ``FunctionDef`` names."""
    return {
        "POWERTOOLS_SERVICE_NAME": definition.domain,
        "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
        **RUNTIME_ENVIRONMENT,
    }


@dataclass(frozen=True)
class Platform:
    """What every function is built on: physical names, the shared environment, the service key."""

    names: Names
    environment: Mapping[str, str]  # definitions.environment(...): each function takes its subset
    encryption_key: kms.IKey


@dataclass(frozen=True)
class GrantTargets:
    """Everything a ``Grant`` can name, resolved to constructs."""

    names: Names
    tables: Mapping[str, dynamodb.ITable]
    bus: events.IEventBus
    bucket: s3.IBucket
    state_machines: Mapping[str, sfn.IStateMachine]
    assumer_role: iam.IRole
    pepper: secretsmanager.ISecret
    encryption_key: kms.IKey


class ServiceFunction(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, definition: FunctionDef, platform: Platform
    ) -> None:
        super().__init__(scope, construct_id)
        self.definition = definition
        key = platform.encryption_key

        self.log_group = logs.LogGroup(
            self, "LogGroup", retention=LOG_RETENTION, encryption_key=key, removal_policy=RemovalPolicy.RETAIN
        )
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", key=key, holds="a Lambda function"
        )
        # Our own role: no AWSLambdaBasicExecutionRole (managed, and may write to every log group).
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{platform.names.function(definition.key)}: execution role",
        )
        log_level = platform.environment.get("POWERTOOLS_LOG_LEVEL", "INFO")
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=platform.names.function(definition.key),
            description=definition.description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=definition.handler,
            code=lambda_.Code.from_asset(
                str(REPO_ROOT), exclude=list(FUNCTION_ASSET_EXCLUDE), ignore_mode=cdk.IgnoreMode.GIT
            ),
            layers=[common_layer(self)],
            environment={
                **function_environment(definition, dict(platform.environment)),
                **powertools_environment(definition),
            },
            timeout=Duration.seconds(definition.timeout_seconds),
            memory_size=definition.memory_mb,
            role=self.role,
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            application_log_level_v2=lambda_.ApplicationLogLevel(log_level.upper()),
            system_log_level_v2=lambda_.SystemLogLevel.WARN,
            log_group=self.log_group,
            reserved_concurrent_executions=_reserved_concurrency(self),
            dead_letter_queue=self.dead_letter_queue,
            retry_attempts=ASYNC_RETRY_ATTEMPTS,
            max_event_age=ASYNC_MAX_EVENT_AGE,
        )
        self.log_group.grant_write(self.role)
        # The dead-letter queue is encrypted with the service key: Lambda sends as this role.
        key.grant(self.role, "kms:GenerateDataKey", "kms:Decrypt")
        self._acknowledge_defaults()

    @property
    def function_arn(self) -> str:
        return self.function.function_arn

    def apply_grants(self, targets: GrantTargets) -> None:
        """Turn each ``Grant`` of the definition into IAM (and acknowledge the wildcards it brings)."""
        for grant in self.definition.grants:
            kind, _, key = grant.resource.partition(":")
            apply = _GRANTS.get((kind, grant.access))
            if apply is None:
                raise ValueError(f"{self.definition.key}: no rule for grant {grant}")
            apply(self, targets, key)

    def _acknowledge_defaults(self) -> None:
        nag.acknowledge_wildcard(
            self.role,
            "Resource::*",
            "X-Ray active tracing: xray:PutTraceSegments and xray:PutTelemetryRecords have no "
            "resource-level permissions, so CDK grants them on '*'.",
        )
        runtime_reason = (
            f"Pinned to python{layer.LAMBDA_PYTHON}: the common layer's wheels and hash-based .pyc are "
            f"built for exactly this minor version (infra/layer.py); moving to a newer runtime is a "
            f"deliberate change of both together."
        )
        nag.acknowledge(self.function, "AwsSolutions-L1", runtime_reason)
        nag.acknowledge(self.function, "Serverless-LambdaLatestVersion", runtime_reason)
        nag.acknowledge(
            self.function,
            "Serverless-LambdaAsyncFailureDestination",
            "Failed asynchronous events go to this function's encrypted SQS dead-letter queue "
            "(DeadLetterConfig) after bounded retries; an on-failure destination as well would "
            "deliver every failure twice.",
        )


def common_layer(scope: Construct) -> lambda_.ILayerVersion:
    """The stack's one dependency layer (built by ``python -m infra.layer``)."""
    stack = cdk.Stack.of(scope)
    existing = stack.node.try_find_child("CommonLayer")
    if isinstance(existing, lambda_.LayerVersion):
        return existing
    layer_dir = Path(stack.node.try_get_context(CONTEXT_LAYER_DIR) or layer.BUILD_DIR)
    if not (layer_dir / "python").is_dir():
        raise FileNotFoundError(f"{layer_dir}/python does not exist: run `python -m infra.layer` first")
    return lambda_.LayerVersion(
        stack,
        "CommonLayer",
        code=lambda_.Code.from_asset(str(layer_dir), exclude=[layer.STAMP.name]),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[ARCHITECTURE],
        description="stackpilot runtime dependencies (requirements/runtime.txt without boto3/botocore)",
    )


def _reserved_concurrency(scope: Construct) -> int | None:
    """Each function's share of the account's concurrency; `-c reserved_concurrency=0` leaves it unset
    (accounts whose quota is still the new-account 10 cannot reserve any)."""
    value = int(scope.node.try_get_context(CONTEXT_RESERVED_CONCURRENCY) or DEFAULT_RESERVED_CONCURRENCY)
    return value if value > 0 else None


# --- grants ---------------------------------------------------------------------------------------

_KMS_DATA_KEY_REASON = (
    "The resource is encrypted with the service KMS key; CDK's grant adds the data-key family "
    "(kms:GenerateDataKey*, kms:ReEncrypt*) on that one key ARN only."
)


def _acknowledge_kms_data_key_family(fn: ServiceFunction) -> None:
    for action in ("kms:GenerateDataKey*", "kms:ReEncrypt*"):
        nag.acknowledge_wildcard(fn.role, f"Action::{action}", _KMS_DATA_KEY_REASON)


def _table(access: str) -> Callable[[ServiceFunction, GrantTargets, str], None]:
    def apply(fn: ServiceFunction, targets: GrantTargets, key: str) -> None:
        table = targets.tables[key]
        {
            "read": table.grant_read_data,
            "write": table.grant_write_data,
            "read_write": table.grant_read_write_data,
        }[access](fn.role)
        if access != "read":
            _acknowledge_kms_data_key_family(fn)
        if isinstance(table, dynamodb.Table) and _has_indexes(table):
            nag.acknowledge_wildcard(
                fn.role,
                f"Resource::{nag.ref(table)}/index/*",
                f"Queries the secondary indexes of the {key} table: index ARNs are the table ARN "
                f"followed by /index/<name>, all of them owned by this one table.",
            )

    return apply


def _has_indexes(table: dynamodb.Table) -> bool:
    cfn = table.node.default_child
    assert isinstance(cfn, dynamodb.CfnTable)
    resolved = cdk.Stack.of(table).resolve(cfn.global_secondary_indexes) or []
    return bool(resolved) or bool(cdk.Stack.of(table).resolve(cfn.local_secondary_indexes))


def _table_append(fn: ServiceFunction, targets: GrantTargets, key: str) -> None:
    """Put new items and read them; never UpdateItem or DeleteItem (the audit log is append-only:
    each put is conditional on its key being free, in the code; IAM makes it the only way)."""
    table = targets.tables[key]
    table.grant(
        fn.role,
        "dynamodb:PutItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:DescribeTable",
    )


def _service_key_data_keys(fn: ServiceFunction, targets: GrantTargets, _: str) -> None:
    """Data keys for envelope encryption, only under stackpilot's encryption context: a call that
    names no org (or another shape of context) is refused by IAM as well as by the code."""
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["kms:GenerateDataKey", "kms:Decrypt"],
            resources=[targets.encryption_key.key_arn],
            conditions={
                "ForAllValues:StringEquals": {
                    "kms:EncryptionContextKeys": [
                        "stackpilot:org_id",
                        "stackpilot:secret_name",
                        "stackpilot:version",
                    ]
                },
                "Null": {"kms:EncryptionContext:stackpilot:org_id": "false"},
            },
        )
    )


def _pepper_read(fn: ServiceFunction, targets: GrantTargets, _: str) -> None:
    targets.pepper.grant_read(fn.role)


def _bus_put_events(fn: ServiceFunction, targets: GrantTargets, _: str) -> None:
    targets.bus.grant_put_events_to(fn.role)


def _bucket_read_write(fn: ServiceFunction, targets: GrantTargets, _: str) -> None:
    targets.bucket.grant_read_write(fn.role)
    reasons = {
        "Action::s3:GetObject*": "reads rendered templates back, including their versions",
        "Action::s3:GetBucket*": "reads the bucket's own settings (location, versioning)",
        "Action::s3:List*": "lists the templates rendered for one connection",
        "Action::s3:DeleteObject*": "removes a rendered template when its connection is deleted",
        "Action::s3:Abort*": "aborts its own failed multipart uploads",
        f"Resource::{nag.ref(targets.bucket)}/*": "objects of the one service bucket only",
    }
    for finding, why in reasons.items():
        nag.acknowledge_wildcard(
            fn.role, finding, f"CDK's grant_read_write on the service bucket (rendered templates): {why}."
        )
    _acknowledge_kms_data_key_family(fn)


def _state_machine_start(fn: ServiceFunction, targets: GrantTargets, key: str) -> None:
    targets.state_machines[key].grant_start_execution(fn.role)


def _state_machine_stop(fn: ServiceFunction, targets: GrantTargets, key: str) -> None:
    names = targets.names
    executions = f"arn:aws:states:{names.region}:{names.account}:execution:{names.state_machine(key)}:*"
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["states:StopExecution"], resources=[executions])
    )
    nag.acknowledge_wildcard(
        fn.role,
        f"Resource::{nag.printed(fn, executions)}",
        f"Stops executions of the {key} state machine only: execution ARNs are named per execution "
        f"at run time, so the grant ends in '<machine name>:*'.",
    )


def _task_tokens(fn: ServiceFunction, targets: GrantTargets, key: str) -> None:
    # The machine's ARN is built from its name, not referenced: a function the machine invokes may
    # also answer its tokens (the machine depends on the function, so a reference would be a cycle).
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"],
            resources=[targets.names.state_machine_arn(key)],
        )
    )


def _assume_assumer_role(fn: ServiceFunction, targets: GrantTargets, _: str) -> None:
    # The trust side is the role's own policy (infra/constructs/accounts.py); this is the caller's.
    fn.role.add_to_principal_policy(
        iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[targets.assumer_role.role_arn])
    )


_GRANTS: dict[tuple[str, str], Callable[[ServiceFunction, GrantTargets, str], None]] = {
    ("table", "read"): _table("read"),
    ("table", "write"): _table("write"),
    ("table", "read_write"): _table("read_write"),
    ("table", "append"): _table_append,
    ("pepper", "read"): _pepper_read,
    ("service_key", "data_keys"): _service_key_data_keys,
    ("bus", "put_events"): _bus_put_events,
    ("bucket", "read_write"): _bucket_read_write,
    ("state_machine", "start"): _state_machine_start,
    ("state_machine", "stop"): _state_machine_stop,
    ("task_tokens", "write"): _task_tokens,
    ("assumer_role", "assume"): _assume_assumer_role,
}


def domain_functions(
    scope: Construct, platform: Platform, definitions: Sequence[FunctionDef], domain: str
) -> dict[str, ServiceFunction]:
    """One ``ServiceFunction`` per definition; a domain construct builds its own domain's only."""
    strangers = [d.key for d in definitions if d.domain != domain]
    if strangers:
        raise ValueError(f"the {domain} construct builds {domain} functions only, not {strangers}")
    return {
        d.key: ServiceFunction(scope, d.construct_id, definition=d, platform=platform) for d in definitions
    }
