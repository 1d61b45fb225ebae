"""The local cloud: moto with the project's patches, bootstrapped from infra/definitions/.

Two ways to run it, same bootstrap:
- ``LocalCloud.in_process()`` — ``mock_aws`` in this process (the pytest fixture);
- ``LocalCloud.server(port)`` — a ThreadedMotoServer on 127.0.0.1 (``stackpilot local serve``).
Either way the Lambda handlers run in this process, with one shared environment. With ``persist``
(``stackpilot local serve``), the world is restored from ``state_dir`` on start and saved there as it
changes (``infra/local/persistence/``; in-flight work: ``infra/local/recovery.py``).
"""

from __future__ import annotations

import io
import json
import os
import secrets
import time
import uuid
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from infra import definitions
from infra.definitions import BUS_RULES, FUNCTIONS, SCHEDULES, STATE_MACHINES, TABLES, TOPICS, Names
from infra.local import patches
from infra.local.containers import fresh_containers
from infra.tables import create_table_request, load_model, table_spec

SERVICE_ACCOUNT = "123456789012"
DEFAULT_STATE_DIR = definitions.REPO_ROOT / ".stackpilot"
TAP_QUEUE = "bus-tap"
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 2})


@dataclass
class LocalCloud:
    stage: str = "local"
    region: str = definitions.HOME_REGION
    time_scale: float = 1.0
    api_base_url: str = "http://127.0.0.1:3000"
    connect_window_seconds: int = 3600
    log_level: str = "INFO"
    state_dir: Path = DEFAULT_STATE_DIR
    endpoint_url: str | None = None  # set in server mode
    # Restore the world from state_dir/state on start and keep saving it there (off: a fresh world).
    persist: bool = False
    fresh: bool = False  # with persist: start empty, setting the previous snapshot aside
    restore_report: str = ""  # one line for the person who started it: what was restored, or why not
    last_saved: str | None = None  # the time of the last snapshot taken by stop()
    snapshots: tuple[int, float] = (0, 0.0)  # after stop(): how many were taken, and their seconds
    _mock: Any = field(default=None, repr=False)
    _server: Any = field(default=None, repr=False)
    _store: Any = field(default=None, repr=False)

    @property
    def names(self) -> Names:
        return Names(stage=self.stage, account=SERVICE_ACCOUNT, region=self.region)

    @property
    def issuer_url(self) -> str:
        return f"{self.api_base_url}/local-issuer"

    # ---------------------------------------------------------------- environment
    def environment(self) -> dict[str, str]:
        """What every function sees (the union of their CDK environments, plus local-only switches)."""
        env = definitions.environment(
            self.names,
            jwt_issuer=self.issuer_url,
            jwt_audience="stackpilot-api",
            jwks_url=f"{self.issuer_url}/.well-known/jwks.json",
            log_level=self.log_level,
            # Task timeouts run in real time in the emulator: the wait schedule is scaled instead.
            stack_wait_first_seconds=max(1, round(10 * self.time_scale)),
            stack_wait_max_seconds=max(1, round(120 * self.time_scale)),
        )
        env.update(definitions.RUNTIME_ENVIRONMENT)
        env.update(
            {
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing",
                "POWERTOOLS_TRACE_DISABLED": "true",
                "POWERTOOLS_DEV": "false",
                "CONNECT_WINDOW_SECONDS": str(self.connect_window_seconds),
                # Answers to custom resources go to the emulator's S3, after the same allowlist.
                "RESPONSE_URL_ENDPOINT_OVERRIDE": "emulator-s3",
            }
        )
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        return env

    def apply_environment(self) -> None:
        os.environ.update(self.environment())
        fresh_containers()

    # ---------------------------------------------------------------- lifecycle
    def start_in_process(self) -> LocalCloud:
        from moto import mock_aws

        self.endpoint_url = None
        os.environ.pop("AWS_ENDPOINT_URL", None)
        self.apply_environment()
        patches.install(time_scale=self.time_scale)
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        patches.register_service_account(SERVICE_ACCOUNT)
        self._start_world()
        return self

    def start_server(self, port: int = 4566, host: str = "127.0.0.1") -> LocalCloud:
        from moto.core.config import default_user_config
        from moto.server import ThreadedMotoServer

        patches.install(time_scale=self.time_scale)
        default_user_config["stepfunctions"] = {"execute_state_machine": True}
        os.environ["MOTO_PORT"] = str(port)
        self._server = ThreadedMotoServer(ip_address=host, port=port, verbose=False)
        self._server.start()
        self.endpoint_url = f"http://{host}:{port}"
        self.apply_environment()
        patches.register_service_account(SERVICE_ACCOUNT)
        self._start_world()
        return self

    def stop(self) -> None:
        if self._store is not None:
            # Before the executions are stopped: the last snapshot keeps them RUNNING, so the next
            # start redrives them instead of finding them aborted by this teardown.
            header = self._store.stop()
            self.last_saved = header.saved_at_local if header else None
            self.snapshots = (self._store.saves, self._store.save_seconds)
            self._store = None
        patches.stop_executions()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        if self._server is not None:
            self._server.stop()
            self._server = None

    # ---------------------------------------------------------------- state across restarts
    @property
    def snapshot_dir(self) -> Path:
        return Path(self.state_dir) / "state"

    def _start_world(self) -> None:
        if not self.persist:
            self.bootstrap()
            return
        from infra.local import persistence

        persistence.track_writes()
        self.restore_report = self._restore_or_bootstrap()
        self._store = persistence.Store(
            self.snapshot_dir, self.fingerprint(), counts=self.counts, version=self._progress
        )
        if not self._store.path.exists():
            self._store.save()  # a fresh world is a state too: the next start restores it
        self._store.start()

    def _restore_or_bootstrap(self) -> str:
        from moto.core.base_backend import BackendDict

        from infra.local import persistence, recovery

        directory = self.snapshot_dir
        path = directory / persistence.SNAPSHOT_NAME
        torn = persistence.remove_torn_temporaries(directory)
        note = f" (removed {len(torn)} incomplete snapshot file(s) of a killed process)" if torn else ""
        if self.fresh:
            moved = ""
            if path.exists():
                moved = f": the previous one was moved to {persistence.set_aside(path, 'previous')}"
            self.bootstrap()
            return f"started fresh (--fresh){moved}{note}"
        if not path.exists():
            self.bootstrap()
            return f"nothing to restore in {directory}: started fresh{note}"
        started = time.perf_counter()
        try:
            header, payload = persistence.read_snapshot(path, self.fingerprint())
            persistence.load_backends(payload)
        except Exception as exc:  # an older or damaged snapshot must never stop the local cloud
            aside = persistence.set_aside(path)
            BackendDict.reset()
            patches.register_service_account(SERVICE_ACCOUNT)
            self.bootstrap()
            return f"could not restore {path} ({exc}): moved it to {aside} and started fresh{note}"
        patches.register_service_account(SERVICE_ACCOUNT)
        self._redeploy()
        recovered = recovery.recover()
        self._reconcile_in_background()
        restored = ", ".join(f"{n} {label}" for label, n in self.counts().items())
        lines = [
            f"restored {restored} from {directory} (saved {header.saved_at_local}, "
            f"{len(payload) / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s){note}"
        ]
        if recovered.stacks_settled or recovered.executions_redriven or recovered.executions_failed:
            lines.append(
                f"in flight when it stopped ({recovery.REASON}): {recovered.stacks_settled} stack "
                f"operation(s) ended, {recovered.executions_redriven} workflow(s) redriven, "
                f"{recovered.executions_failed} workflow(s) ended FAILED"
            )
        return "\n".join(lines)

    def fingerprint(self) -> str:
        """What a snapshot's data depends on (code is redeployed on every restore)."""
        from infra.local.persistence import world

        return world.fingerprint(self.names, SERVICE_ACCOUNT, self.stage, self.region)

    def counts(self) -> dict[str, int]:
        """What the world holds, read from moto's backends directly."""
        from infra.local.persistence import world

        return world.counts(self.names, SERVICE_ACCOUNT, self.region)

    def _progress(self) -> int:
        """Grows whenever the world may have changed: writes, and background work (executions, stack
        operations) that changes it without a request."""
        from infra.local import persistence

        return persistence.writes_seen() + patches.background_progress()

    def _redeploy(self) -> None:
        """The code of a restored world is this checkout's, as after a deploy: every function's
        configuration and environment (ports may differ) and every state machine's definition."""
        names, env = self.names, self.environment()
        lam, sfn = self.client("lambda"), self.client("stepfunctions")
        for fn in FUNCTIONS:
            lam.update_function_configuration(
                FunctionName=names.function(fn.key),
                Handler=fn.handler,
                Description=fn.description,
                Timeout=fn.timeout_seconds,
                MemorySize=fn.memory_mb,
                Environment={"Variables": definitions.function_environment(fn, env)},
            )
        for sm in STATE_MACHINES:
            sfn.update_state_machine(
                stateMachineArn=names.state_machine_arn(sm.key),
                definition=render_asl(sm, self.function_arn),
            )

    def _reconcile_in_background(self) -> None:
        """Stack records re-observed once against the customers' accounts, as the schedule would: an
        event lost in flight when the local cloud stopped is made up for."""
        for schedule in SCHEDULES:
            if schedule.state_machine == "reconcile-stacks":
                self.client("stepfunctions").start_execution(
                    stateMachineArn=self.names.state_machine_arn(schedule.state_machine),
                    input=json.dumps(self._scheduled_event(schedule.key)),
                )

    # ---------------------------------------------------------------- clients
    def client(
        self, service: str, region: str | None = None, credentials: dict[str, str] | None = None
    ) -> Any:
        """A boto3 client on the emulator, as the service account unless credentials are given."""
        creds = credentials or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
        return boto3.session.Session().client(
            service,
            region_name=region or self.region,
            endpoint_url=self.endpoint_url,
            config=_CONFIG,
            **creds,
        )

    def customer_client(self, service: str, account_id: str, region: str | None = None) -> Any:
        """A client acting inside a customer's account (the customer's own hands, not stackpilot's)."""
        return customer_client(service, account_id, region or self.region, self.endpoint_url)

    # ---------------------------------------------------------------- bootstrap
    def bootstrap(self) -> None:
        names = self.names
        self._tables(names)
        self._storage(names)
        self._bus(names)
        role_arn = self._roles(names)
        self._functions(names, role_arn)
        self._state_machines(names, role_arn)
        self._topics(names)
        self._schedules(names)
        self._bus_rules(names)

    def _tables(self, names: Names) -> None:
        ddb = self.client("dynamodb")
        for table in TABLES:
            spec = table_spec(load_model(table.model))
            ddb.create_table(**create_table_request(names.table(table.key), spec))
            if spec.ttl_attribute:
                ddb.update_time_to_live(
                    TableName=names.table(table.key),
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
                )

    def _storage(self, names: Names) -> None:
        s3 = self.client("s3")
        s3.create_bucket(Bucket=names.service_bucket)
        s3.put_bucket_versioning(Bucket=names.service_bucket, VersioningConfiguration={"Status": "Enabled"})
        kms = self.client("kms")
        key = kms.create_key(Description="stackpilot local key")["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName=names.kms_alias, TargetKeyId=key)
        # The API-key pepper: random per local cloud, as the CDK app's generated secret is per stage.
        self.client("secretsmanager").create_secret(
            Name=names.api_key_pepper_secret, SecretString=secrets.token_urlsafe(48), KmsKeyId=names.kms_alias
        )

    def _bus(self, names: Names) -> None:
        events, sqs = self.client("events"), self.client("sqs")
        events.create_event_bus(Name=names.event_bus)
        # A catch-all rule into a queue: what `stackpilot local events` and the tests read back.
        queue_url = sqs.create_queue(QueueName=f"{names.prefix}-{TAP_QUEUE}")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name=f"{names.prefix}-tap",
            EventBusName=names.event_bus,
            EventPattern=json.dumps({"source": [{"prefix": ""}]}),
        )
        events.put_targets(
            Rule=f"{names.prefix}-tap",
            EventBusName=names.event_bus,
            Targets=[{"Id": "tap", "Arn": queue_arn}],
        )

    def _roles(self, names: Names) -> str:
        iam = self.client("iam")
        trust_service = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": ["lambda.amazonaws.com", "states.amazonaws.com"]},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role_arn = iam.create_role(
            RoleName=f"{names.prefix}-local-execution", AssumeRolePolicyDocument=json.dumps(trust_service)
        )["Role"]["Arn"]
        trust_account = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{SERVICE_ACCOUNT}:root"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(
            RoleName=names.customer_assumer_role, AssumeRolePolicyDocument=json.dumps(trust_account)
        )
        return str(role_arn)

    def _functions(self, names: Names, role_arn: str) -> None:
        lam = self.client("lambda")
        env = self.environment()
        for fn in FUNCTIONS:
            lam.create_function(
                FunctionName=names.function(fn.key),
                Runtime="python3.12",
                Role=role_arn,
                Handler=fn.handler,
                Code={"ZipFile": _placeholder_zip()},
                Description=fn.description,
                Timeout=fn.timeout_seconds,
                MemorySize=fn.memory_mb,
                Environment={"Variables": definitions.function_environment(fn, env)},
            )

    def function_arn(self, key: str) -> str:
        return f"arn:aws:lambda:{self.region}:{SERVICE_ACCOUNT}:function:{self.names.function(key)}"

    def _state_machines(self, names: Names, role_arn: str) -> None:
        sfn = self.client("stepfunctions")
        for sm in STATE_MACHINES:
            sfn.create_state_machine(
                name=names.state_machine(sm.key),
                definition=render_asl(sm, self.function_arn),
                roleArn=role_arn,
                type="STANDARD",
            )

    def _topics(self, names: Names) -> None:
        for topic in TOPICS:
            for region in topic.regions:
                sns = self.client("sns", region=region)
                arn = sns.create_topic(Name=names.callback_topic)["TopicArn"]
                sns.subscribe(TopicArn=arn, Protocol="lambda", Endpoint=self.function_arn(topic.subscriber))
                self.client("s3", region=region).create_bucket(
                    Bucket=patches.CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX + region.replace("-", ""),
                    **(
                        {}
                        if region == "us-east-1"
                        else {"CreateBucketConfiguration": {"LocationConstraint": region}}
                    ),
                )

    def _schedules(self, names: Names) -> None:
        """The same rules as in AWS (the emulator does not fire schedules: `run_schedule` does)."""
        events = self.client("events")
        for schedule in SCHEDULES:
            rule = f"{names.prefix}-{schedule.key}"
            events.put_rule(
                Name=rule, ScheduleExpression=schedule.expression, Description=schedule.description
            )
            target = (
                {"Id": "function", "Arn": self.function_arn(schedule.function)}
                if schedule.function
                else {
                    "Id": "state-machine",
                    "Arn": names.state_machine_arn(str(schedule.state_machine)),
                    "RoleArn": self._schedule_role_arn,
                }
            )
            events.put_targets(Rule=rule, Targets=[target])

    def _bus_rules(self, names: Names) -> None:
        """Rules on stackpilot's bus delivering to functions, as in AWS."""
        events = self.client("events")
        for rule in BUS_RULES:
            name = f"{names.prefix}-{rule.key}"
            events.put_rule(
                Name=name,
                EventBusName=names.event_bus,
                EventPattern=json.dumps(rule.pattern),
                Description=rule.description,
            )
            events.put_targets(
                Rule=name,
                EventBusName=names.event_bus,
                Targets=[{"Id": "function", "Arn": self.function_arn(rule.function)}],
            )

    @property
    def _schedule_role_arn(self) -> str:
        # The emulator enforces no IAM: the execution role stands in for the rule's own role.
        return f"arn:aws:iam::{SERVICE_ACCOUNT}:role/{self.names.prefix}-local-execution"

    def run_schedule(self, key: str, timeout_seconds: float = 60) -> dict[str, Any]:
        """Fire a schedule now, as EventBridge would when its time comes; returns the function's result,
        or the output of the execution it started once that has ended (a failed one raises)."""
        schedule = next(s for s in SCHEDULES if s.key == key)
        event = self._scheduled_event(key)
        if schedule.state_machine:
            return self._run_state_machine(schedule.state_machine, event, timeout_seconds)
        assert schedule.function is not None
        reply = self.client("lambda").invoke(
            FunctionName=self.names.function(schedule.function), Payload=json.dumps(event).encode()
        )
        payload = json.loads(reply["Payload"].read())
        if reply.get("FunctionError"):
            raise RuntimeError(
                f"{schedule.function} failed: {payload.get('errorType')}: {payload.get('errorMessage')}"
            )
        return dict(payload)

    def _scheduled_event(self, key: str) -> dict[str, Any]:
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": SERVICE_ACCOUNT,
            "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [f"arn:aws:events:{self.region}:{SERVICE_ACCOUNT}:rule/{self.names.prefix}-{key}"],
            "detail": {},
        }

    def _run_state_machine(self, key: str, event: dict[str, Any], timeout_seconds: float) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        # Unnamed, as EventBridge starts it (the execution gets a unique generated name).
        arn = sfn.start_execution(stateMachineArn=self.names.state_machine_arn(key), input=json.dumps(event))[
            "executionArn"
        ]
        deadline = time.monotonic() + timeout_seconds
        while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            if time.monotonic() > deadline:
                raise TimeoutError(f"{key} still running after {timeout_seconds}s: {arn}")
            time.sleep(0.05)
        if described["status"] != "SUCCEEDED":
            raise RuntimeError(
                f"{key} ended {described['status']}: {described.get('error')}: {described.get('cause')}"
            )
        return dict(json.loads(described.get("output") or "{}"))

    # ---------------------------------------------------------------- reading back
    def settled_execution(
        self, machine_key: str, name: str, timeout_seconds: float = 30
    ) -> tuple[str, list[dict[str, Any]]]:
        """Waits for an execution to leave RUNNING; returns its status and its whole history."""
        sfn = self.client("stepfunctions")
        arn = self.names.execution_arn(machine_key, name)
        deadline = time.monotonic() + timeout_seconds
        while (status := sfn.describe_execution(executionArn=arn)["status"]) == "RUNNING":
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
        return status, sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]

    def tap_events(self, wait_seconds: int = 0) -> Iterator[dict[str, Any]]:
        """Events delivered to the bus so far (each read once)."""
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=f"{self.names.prefix}-{TAP_QUEUE}")["QueueUrl"]
        while True:
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
            ).get("Messages", [])
            if not messages:
                return
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                yield json.loads(message["Body"])


def render_asl(sm: definitions.StateMachineDef, function_arn: Any) -> str:
    """The ASL with its ${Placeholders} replaced, exactly as CDK's definition_substitutions does."""
    text = sm.asl_path.read_text()
    for placeholder, key in sm.function_substitutions.items():
        text = text.replace("${" + placeholder + "}", function_arn(key))
    return text


def _placeholder_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "README.txt", "The local cloud runs handlers in-process from their Handler strings.\n"
        )
    return buffer.getvalue()


@contextmanager
def running_in_process(**kwargs: Any) -> Iterator[LocalCloud]:
    cloud = LocalCloud(**kwargs).start_in_process()
    try:
        yield cloud
    finally:
        cloud.stop()


def customer_client(service: str, account_id: str, region: str, endpoint_url: str | None) -> Any:
    """The emulator picks the account from the ``x-moto-account-id`` header when one is sent."""
    client = boto3.session.Session().client(
        service,
        region_name=region,
        endpoint_url=endpoint_url,
        aws_access_key_id="customer",
        aws_secret_access_key="customer",  # noqa: S106 - the emulator's dummy credentials
        config=_CONFIG,
    )

    def add_account(request: Any, **_: Any) -> None:
        request.headers["x-moto-account-id"] = account_id

    client.meta.events.register("before-sign.*.*", add_account)
    return client
