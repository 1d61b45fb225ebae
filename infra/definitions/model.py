"""The building blocks of the description: physical names, grants and one dataclass per kind of
resource (functions, tables, state machines, routes, schedules, bus rules, topics), with the places
and regions they point at. Nothing here names a particular function or table: the domain modules do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
STATE_MACHINES_DIR = REPO_ROOT / "state_machines"

# Regions where a customer may connect an account: one callback topic each (a custom resource's
# ServiceToken must live in the stack's own region).
SUPPORTED_REGIONS: tuple[str, ...] = (
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
)
HOME_REGION = "us-east-1"


@dataclass(frozen=True)
class Names:
    """Physical names of every resource, derived from the stage, account and region."""

    stage: str
    account: str
    region: str

    @property
    def prefix(self) -> str:
        return f"stackpilot-{self.stage}"

    def function(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    def table(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    @property
    def event_bus(self) -> str:
        return self.prefix

    @property
    def callback_topic(self) -> str:
        return f"{self.prefix}-connection-callbacks"

    def callback_topic_arn(self, region: str) -> str:
        return f"arn:aws:sns:{region}:{self.account}:{self.callback_topic}"

    @property
    def service_bucket(self) -> str:
        return f"{self.prefix}-service-{self.account}-{self.region}"

    def state_machine(self, key: str) -> str:
        return f"{self.prefix}-{key}"

    def state_machine_arn(self, key: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{self.state_machine(key)}"

    def execution_arn(self, key: str, name: str) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:execution:{self.state_machine(key)}:{name}"

    @property
    def customer_assumer_role(self) -> str:
        return f"{self.prefix}-customer-assumer"

    @property
    def customer_assumer_role_arn(self) -> str:
        return f"arn:aws:iam::{self.account}:role/{self.customer_assumer_role}"

    @property
    def kms_alias(self) -> str:
        return f"alias/{self.prefix}"

    @property
    def api_key_pepper_secret(self) -> str:
        return f"{self.prefix}/api-key-pepper"


@dataclass(frozen=True)
class Grant:
    """A permission a function needs, in words the CDK app turns into IAM and the local cloud ignores.

    resource: ``table:<key>`` | ``bus`` | ``bucket`` | ``state_machine:<key>`` | ``assumer_role`` |
              ``task_tokens:<key>`` (SendTask* on that machine's executions) | ``pepper`` |
              ``service_key`` (KMS data keys under an encryption context)
    access:   ``read`` | ``write`` | ``read_write`` | ``append`` (put new items and read: never update
              or delete) | ``put_events`` | ``start`` | ``stop`` | ``assume`` | ``data_keys``
    """

    resource: str
    access: str


@dataclass(frozen=True)
class FunctionDef:
    key: str  # physical name suffix: stackpilot-<stage>-<key>
    construct_id: str
    domain: str
    handler: str  # dotted path to the entry point, as Lambda's Handler setting
    description: str
    env: tuple[str, ...]  # which keys of ``environment()`` this function receives
    grants: tuple[Grant, ...] = ()
    timeout_seconds: int = 10
    memory_mb: int = 512


@dataclass(frozen=True)
class TableDef:
    key: str
    construct_id: str
    model: str  # dotted path to the pynamodb model whose schema the table must have


@dataclass(frozen=True)
class StateMachineDef:
    key: str
    construct_id: str
    asl_path: Path
    # ${Placeholder} in the ASL -> key of the function whose ARN replaces it
    function_substitutions: dict[str, str] = field(default_factory=dict)
    # functions allowed to send task results back to executions of this machine
    callers: tuple[str, ...] = ()


@dataclass(frozen=True)
class RouteDef:
    method: str
    path: str  # API Gateway style: /accounts/{connection_id}
    function: str  # key of the FunctionDef that serves it
    summary: str
    authorized: bool = True


@dataclass(frozen=True)
class ScheduleDef:
    """A function run, or a state machine started, on a schedule (an EventBridge rule on the default
    bus whose target retries, then dead-letters). Exactly one of ``function`` and ``state_machine``."""

    key: str
    construct_id: str
    expression: str  # rate(...) or cron(...)
    description: str
    function: str | None = None  # function key
    state_machine: str | None = None  # state machine key

    def __post_init__(self) -> None:
        if (self.function is None) == (self.state_machine is None):
            raise ValueError(f"schedule {self.key}: give exactly one of function and state_machine")


@dataclass(frozen=True)
class BusRuleDef:
    """A rule on stackpilot's bus delivering matching events to a function (retries and a DLQ)."""

    key: str
    construct_id: str
    function: str  # function key
    pattern: dict[str, list[str]]
    description: str


@dataclass(frozen=True)
class TopicDef:
    """One SNS topic per supported region, each delivering to ``subscriber``."""

    key: str
    construct_id: str
    subscriber: str  # function key
    regions: tuple[str, ...] = SUPPORTED_REGIONS


def asl_placeholders(sm: StateMachineDef) -> set[str]:
    import re

    return set(re.findall(r"\$\{([A-Za-z0-9]+)\}", sm.asl_path.read_text()))
