"""Every patch of moto internals the local cloud needs, in one place.

moto has no plug-in API for what the local cloud needs (Lambdas that really run, Step Functions
that wait in scaled time, STS that evaluates trust policies, EventBridge targets, CloudFormation
custom resources answered through S3), so each behaviour below replaces a moto internal.
Every replacement is pinned to the moto version it was written against: `install()` refuses to
patch any other version, and `tests/infrastructure/test_local_cloud_patches.py` has one smoke test
per patch, so a moto upgrade fails loudly instead of silently changing behaviour.

Facts relied upon (measured on moto 5.2.5) are in `/work/shared/notes/local-cloud.md`.
"""

from __future__ import annotations

import base64
import contextvars
import datetime as dt
import hashlib
import hmac
import importlib
import json
import logging
import re
import threading
import time
import traceback
import types
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import moto

LOG = logging.getLogger(__name__)

SUPPORTED_MOTO_VERSION = "5.2.5"
CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX = "cloudformation-custom-resource-response-"
DEFAULT_SERVICE_ACCOUNT = "123456789012"
# moto maps every access key that is not 20 chars [A-Z0-9] (e.g. the Step Functions SDK key "ak")
# to this one, so registering it makes the whole service side act as the service account.
SERVICE_ACCESS_KEY = "AKIAEXAMPLE"

CUSTOM_RESOURCE_TYPE = "AWS::CloudFormation::CustomResource"
DEFAULT_SERVICE_TIMEOUT_SECONDS = 3600
_POLL_SECONDS = 0.2
_MIN_POLL_SECONDS = 0.01

# (logical id, reason) to fail the stack; None to complete it.
StackCompletionHook = Callable[[Any], "tuple[str, str] | None"]


# --------------------------------------------------------------------------------------------------
# Module state
# --------------------------------------------------------------------------------------------------


@dataclass
class _FailureRule:
    stack_name_prefix: str
    logical_id: str
    reason: str


@dataclass
class _DelayRule:
    stack_name_prefix: str
    seconds: float


@dataclass
class _State:
    lock: threading.RLock = field(default_factory=threading.RLock)
    installed: bool = False
    time_scale: float = 1.0
    service_account: str = DEFAULT_SERVICE_ACCOUNT
    # Bumped by stop_executions(): background loops started under an older generation give up.
    generation: int = 0
    interrupt: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    executions: list[Any] = field(default_factory=list)
    completion_hook: StackCompletionHook | None = None
    failure_rules: list[_FailureRule] = field(default_factory=list)
    delay_rules: list[_DelayRule] = field(default_factory=list)
    # stack id -> thread currently creating/updating/deleting that stack in the background
    busy_stacks: dict[str, threading.Thread] = field(default_factory=dict)
    # ids of stacks whose lifecycle the patches drive (async custom-resource stacks)
    managed_stacks: set[str] = field(default_factory=set)
    originals: dict[tuple[int, str], Any] = field(default_factory=dict)


_state = _State()
_tls = threading.local()
# Access key of the STS AssumeRole request being served (set by the response layer, read by the
# backend, which moto does not tell who the caller is).
_caller_access_key: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "stackpilot_sts_caller", default=None
)


class _Aborted(Exception):
    """A background wait was cancelled by stop_executions()."""


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def install(*, time_scale: float = 1.0) -> None:
    """Apply every patch (once) and set the time scale. Safe to call any number of times."""
    set_time_scale(time_scale)
    with _state.lock:
        if _state.installed:
            return
        # Each _replace() checks the version and names its patch in the error.
        _patch_lambda()
        _patch_sns_to_lambda()
        _patch_stepfunctions()
        _patch_sts()
        _patch_events()
        _patch_cloudformation()
        _quiet_loggers()
        _state.installed = True


def set_time_scale(scale: float) -> None:
    """Wait states, Retry backoffs and custom-resource timeouts last `seconds * scale`."""
    if not 0 < scale <= 1:
        raise ValueError(f"time scale must be in (0, 1], got {scale}")
    _state.time_scale = float(scale)


def stop_executions() -> None:
    """Stop every running Step Functions execution and background CloudFormation wait (teardown)."""
    with _state.lock:
        _state.generation += 1
        _state.interrupt.set()
        executions, _state.executions = _state.executions, []
    for execution in executions:
        _stop_execution(execution)
    _join_threads(timeout=2.0)
    with _state.lock:
        _state.interrupt.clear()
        _state.busy_stacks.clear()


def register_service_account(account_id: str = DEFAULT_SERVICE_ACCOUNT) -> None:
    """Make AKIAEXAMPLE (Step Functions SDK clients, dummy credentials) act as `account_id`.

    moto keeps access keys in its IAM backends, which a reset wipes: call again after every reset.
    """
    from moto.iam.models import AccessKey, iam_backends

    _require_version("register_service_account")
    _state.service_account = account_id
    for partition_backends in iam_backends.values():
        for iam_backend in partition_backends.values():
            iam_backend.access_keys.pop(SERVICE_ACCESS_KEY, None)
    access_key_class: Any = AccessKey  # moto's model class, typed abstract
    key = access_key_class(user_name=None, prefix="AKIA", account_id=account_id)
    key.access_key_id = SERVICE_ACCESS_KEY
    iam_backends[account_id]["aws"].access_keys[SERVICE_ACCESS_KEY] = key


def enable_state_machine_execution() -> None:
    """Server mode: make moto's Step Functions execute definitions (mock_aws takes it as config)."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True  # type: ignore[typeddict-item]


def custom_resource_response_bucket(region: str) -> str:
    """Name of the S3 bucket (service account) where custom-resource responses land."""
    return CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX + region.replace("-", "")


def set_stack_completion_hook(hook: StackCompletionHook | None) -> None:
    """Call `hook(stack)` before any stack is marked CREATE_COMPLETE (in a background thread).

    The hook may sleep to delay completion; returning (logical_id, reason) fails that resource and
    rolls the stack back (ROLLBACK_COMPLETE). None removes the hook.
    """
    _state.completion_hook = hook


def fail_next_stack_creation(stack_name_prefix: str, logical_id: str, reason: str) -> None:
    """The next stack whose name starts with the prefix fails on `logical_id` with `reason`."""
    with _state.lock:
        _state.failure_rules.append(_FailureRule(stack_name_prefix, logical_id, reason))


def delay_next_stack_creation(stack_name_prefix: str, seconds: float) -> None:
    """The next stack whose name starts with the prefix stays CREATE_IN_PROGRESS `seconds*scale`."""
    with _state.lock:
        _state.delay_rules.append(_DelayRule(stack_name_prefix, seconds))


def clear_stack_hooks() -> None:
    """Forget the completion hook and every pending fail/delay rule."""
    with _state.lock:
        _state.completion_hook = None
        _state.failure_rules.clear()
        _state.delay_rules.clear()


# --------------------------------------------------------------------------------------------------
# Patch machinery
# --------------------------------------------------------------------------------------------------


def _require_version(patch_name: str) -> None:
    if moto.__version__ != SUPPORTED_MOTO_VERSION:
        raise RuntimeError(
            f"stackpilot patch '{patch_name}' was written against moto {SUPPORTED_MOTO_VERSION} "
            f"internals but moto {moto.__version__} is installed: re-check every patch in "
            "infra/local/patches.py against the new moto source (tests/infrastructure/"
            "test_local_cloud_patches.py has a smoke test per patch), then update SUPPORTED_MOTO_VERSION"
        )


def _replace(owner: Any, name: str, replacement: Any, patch_name: str) -> None:
    """Swap owner.name for replacement, keeping the original (idempotent)."""
    _require_version(patch_name)
    key = (id(owner), name)
    if key in _state.originals:
        return
    if name not in vars(owner):
        raise RuntimeError(f"stackpilot patch '{patch_name}': {owner!r} has no attribute {name!r}")
    _state.originals[key] = vars(owner)[name]
    setattr(owner, name, replacement)


def _original(owner: Any, name: str) -> Any:
    return _state.originals[(id(owner), name)]


def _call_original(owner: Any, name: str, *args: Any, **kwargs: Any) -> Any:
    original = _original(owner, name)
    if isinstance(original, (classmethod, staticmethod)):
        return original.__func__(*args, **kwargs)
    return original(*args, **kwargs)


def _scale() -> float:
    return _state.time_scale


def _scaled_sleep(seconds: float) -> None:
    """Sleep seconds*scale, waking early when stop_executions() runs."""
    generation = _state.generation
    deadline = time.monotonic() + max(0.0, float(seconds)) * _scale()
    while generation == _state.generation:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        _state.interrupt.wait(min(remaining, 0.1))


def _spawn(target: Callable[..., None], name: str, *args: Any) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, name=f"stackpilot-{name}", daemon=True)
    with _state.lock:
        _state.threads = [t for t in _state.threads if t.is_alive()]
        _state.threads.append(thread)
    thread.start()
    return thread


def _join_threads(timeout: float) -> None:
    from moto.stepfunctions.parser.utils import TMP_THREADS

    deadline = time.monotonic() + timeout
    with _state.lock:
        threads = [*_state.threads, *TMP_THREADS]
    for thread in threads:
        if thread is threading.current_thread():
            continue
        thread.join(max(0.0, deadline - time.monotonic()))
    with _state.lock:
        _state.threads = [t for t in _state.threads if t.is_alive()]
        TMP_THREADS[:] = [t for t in TMP_THREADS if t.is_alive()]


def _quiet_loggers() -> None:
    logging.getLogger("moto.stepfunctions.parser").setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per emulated AWS call
    # Every caught failure (normal Retry/Catch control flow) is logged at ERROR with the repr of
    # the whole component tree; real interpreter crashes are still logged by program.py.
    logging.getLogger("moto.stepfunctions.parser.asl.component.eval_component").setLevel(logging.CRITICAL)


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in dict(headers).items():
        if str(key).lower() == lowered:
            return str(value)
    return None


def _iso_now() -> str:
    return dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------------------------------
# 1. Lambda: run handlers in-process
# --------------------------------------------------------------------------------------------------


class LambdaContext:
    """The context object the Python Lambda runtime passes to handlers."""

    def __init__(self, function: Any, request_id: str) -> None:
        self.function_name: str = function.function_name
        self.function_version: str = str(function.version)
        self.invoked_function_arn: str = function.function_arn
        self.memory_limit_in_mb: int = int(function.memory_size)
        self.aws_request_id: str = request_id
        self.log_group_name: str = f"/aws/lambda/{function.function_name}"
        today = dt.datetime.now(tz=dt.UTC).strftime("%Y/%m/%d")
        self.log_stream_name: str = f"{today}/[{self.function_version}]{uuid.uuid4().hex}"
        self.identity: Any = None
        self.client_context: Any = None
        self._deadline = time.monotonic() + float(function.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _HandlerLoadError(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type


def _load_handler(handler: str | None) -> Callable[[Any, Any], Any]:
    """Import "package.module.attribute" like the Lambda runtime (modules stay warm)."""
    module_name, _, attribute = (handler or "").rpartition(".")
    if not module_name or not attribute:
        raise _HandlerLoadError("Runtime.MalformedHandlerName", f"Bad handler '{handler}'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _HandlerLoadError(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        ) from exc
    except SyntaxError as exc:
        raise _HandlerLoadError(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}"
        ) from exc
    function = getattr(module, attribute, None)
    if not callable(function):
        raise _HandlerLoadError(
            "Runtime.HandlerNotFound", f"Handler '{attribute}' missing on module '{module_name}'"
        )
    return function  # type: ignore[no-any-return]


def _error_payload(error_type: str, message: str, stack: list[str]) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": stack}).encode()


def _run_handler(function: Any, event: Any, request_id: str) -> tuple[bytes, bool]:
    """Run the handler; returns (payload, failed) following Lambda's error contract."""
    context = LambdaContext(function, request_id)
    try:
        handler = _load_handler(function.handler)
        result = handler(event, context)
    except _HandlerLoadError as exc:
        return _error_payload(exc.error_type, str(exc), []), True
    except Exception as exc:
        stack = traceback.format_list(traceback.extract_tb(exc.__traceback__)[1:])
        return _error_payload(type(exc).__name__, str(exc), stack), True
    try:
        return json.dumps(result).encode(), False
    except (TypeError, ValueError) as exc:
        return _error_payload("Runtime.MarshalError", f"Unable to marshal response: {exc}", []), True


def _parse_event(body: Any) -> Any:
    if body in (None, b"", ""):
        return {}
    return json.loads(body)


def _log_result(request_id: str, function: Any, started: float) -> str:
    millis = (time.monotonic() - started) * 1000
    text = (
        f"START RequestId: {request_id} Version: {function.version}\n"
        f"END RequestId: {request_id}\n"
        f"REPORT RequestId: {request_id}\tDuration: {millis:.2f} ms\t"
        f"Memory Size: {function.memory_size} MB\n"
    )
    return base64.b64encode(text.encode()).decode()


# Lambda retries a failed asynchronous invocation twice, about one and two minutes later.
ASYNC_RETRY_DELAYS_SECONDS = (60.0, 120.0)


def _run_async(function: Any, event: Any) -> None:
    for attempt, delay in enumerate((0.0, *ASYNC_RETRY_DELAYS_SECONDS)):
        if delay:
            _scaled_sleep(delay)
        payload, failed = _run_handler(function, event, str(uuid.uuid4()))
        if not failed:
            return
        LOG.warning(
            "async invocation %d of %s failed: %s",
            attempt + 1,
            function.function_name,
            payload.decode()[:500],
        )
    # AWS would now send the event to the function's DLQ / on-failure destination.


def invoke_async(function: Any, event: Any) -> None:
    """Invoke a moto LambdaFunction like InvocationType=Event (daemon thread)."""
    _spawn(_run_async, f"lambda-{function.function_name}", function, event)


def _lambda_invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> bytes:
    """Replacement for LambdaFunction.invoke: every caller (API, SNS, SQS, SFN, CFN) lands here.

    Callers expect bytes/str back and read `x-amz-function-error` from response_headers.
    """
    event = _parse_event(body)
    invocation_type = _header(request_headers, "X-Amz-Invocation-Type") or "RequestResponse"
    response_headers["x-amz-executed-version"] = str(self.version)
    if invocation_type == "DryRun":
        return b""
    if invocation_type == "Event":
        invoke_async(self, event)
        return b""
    request_id = str(uuid.uuid4())
    started = time.monotonic()
    payload, failed = _run_handler(self, event, request_id)
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-log-result"] = _log_result(request_id, self, started)
    return payload


def _patch_lambda() -> None:
    from moto.awslambda.models import LambdaFunction

    _replace(LambdaFunction, "invoke", _lambda_invoke, "lambda in-process invoke")


def _lambda_function(function_arn: str) -> Any:
    from moto.awslambda.utils import get_backend

    parts = function_arn.split(":")
    qualifier = parts[7] if len(parts) == 8 else None
    return get_backend(parts[4], parts[3]).get_function(":".join(parts[:7]), qualifier)


def _sns_message_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    converted = {}
    for name, attribute in (attributes or {}).items():
        value = attribute.get("StringValue", attribute.get("BinaryValue"))
        converted[name] = {"Type": attribute.get("DataType", "String"), "Value": value}
    return converted


def _sns_lambda_event(
    subscription: Any, message: str, message_id: str, subject: str | None, attributes: Any
) -> dict[str, Any]:
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": _iso_now(),
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "EXAMPLE",
                    "MessageId": message_id,
                    "Message": message,
                    "MessageAttributes": _sns_message_attributes(attributes),
                    "Type": "Notification",
                    "UnsubscribeUrl": "EXAMPLE",
                    "TopicArn": subscription.topic.arn,
                    "Subject": subject,
                },
            }
        ]
    }


def _subscription_publish(
    self: Any,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    """SNS -> Lambda like AWS: asynchronous, with the real topic ARN and message id."""
    if self.protocol != "lambda":
        _call_original(
            type(self),
            "publish",
            self,
            message,
            message_id,
            subject=subject,
            message_attributes=message_attributes,
            group_id=group_id,
            deduplication_id=deduplication_id,
            message_structure=message_structure,
        )
        return
    matcher = self._filter_policy_matcher
    if matcher is not None and not matcher.matches(message_attributes, message):
        return
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    event = _sns_lambda_event(self, message, message_id, subject, message_attributes)
    try:
        function = _lambda_function(self.endpoint)
    except Exception:
        # AWS accepts the publish and fails the delivery; it does not fail the Publish call.
        LOG.warning("SNS could not deliver to %s", self.endpoint, exc_info=True)
        return
    invoke_async(function, event)


def _patch_sns_to_lambda() -> None:
    from moto.sns.models import Subscription

    _replace(Subscription, "publish", _subscription_publish, "sns -> lambda delivery")


# --------------------------------------------------------------------------------------------------
# 2. Step Functions: scaled time, unnamed executions, SendTaskFailure cause, teardown
# --------------------------------------------------------------------------------------------------


def _scaled_wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
    """WaitFunction._wait_interval on a float deadline (moto's int() rounding would re-enter)."""
    generation = _state.generation
    deadline = time.monotonic() + max(0, wait_seconds) * _scale()
    while env.is_running() and generation == _state.generation:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        env.program_state_event.wait(min(remaining, 0.1))


def _start_execution(
    self: Any,
    state_machine_arn: str,
    name: str | None = None,
    execution_input: str | None = None,
    trace_header: str | None = None,
) -> Any:
    """AWS generates a uuid name when none is given (moto builds an ARN ending ':None')."""
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    return _call_original(
        StepFunctionsParserBackend,
        "start_execution",
        self,
        state_machine_arn,
        name or str(uuid.uuid4()),
        execution_input,
        trace_header,
    )


def _send_task_failure(self: Any) -> Any:
    """moto's response layer drops `cause`."""
    from moto.core.responses import EmptyResult

    self.stepfunction_backend.send_task_failure(
        self._get_param("taskToken"), error=self._get_param("error"), cause=self._get_param("cause")
    )
    return EmptyResult()


def _execution_start(self: Any) -> None:
    from moto.stepfunctions.parser.backend.execution import Execution

    with _state.lock:
        # Keep only live executions: a long-running local server starts many.
        _state.executions = [e for e in _state.executions if e.exec_status in (None, "RUNNING")]
        _state.executions.append(self)
    _call_original(Execution, "start", self)


def _stop_execution(execution: Any) -> None:
    if execution.exec_status == "RUNNING":
        execution.stop(
            stop_date=dt.datetime.now(tz=dt.UTC), error="States.Aborted", cause="local cloud teardown"
        )


def _interrupt_callbacks(execution: Any) -> None:
    env = getattr(getattr(execution, "exec_worker", None), "env", None)
    pool = getattr(getattr(env, "callback_pool_manager", None), "_pool", {})
    for endpoint in list(pool.values()):
        endpoint.interrupt_all()


def _execution_stop(self: Any, stop_date: dt.datetime, error: str | None, cause: str | None) -> None:
    """StopExecution is ABORTED at once, like AWS.

    moto only flags the interpreter and reflects the status when the worker thread ends; a worker
    blocked on a task token would stay RUNNING until the token times out, and the interrupted
    wait would then be reported as FAILED.
    """
    from moto.stepfunctions.parser.api import ExecutionStatus
    from moto.stepfunctions.parser.backend.execution import Execution

    worker = getattr(self, "exec_worker", None)
    if worker is not None and worker.env is not None:
        _call_original(Execution, "stop", self, stop_date=stop_date, error=error, cause=cause)
    if self.exec_status == "RUNNING":
        self.stackpilot_aborted = True
        self.exec_status, self.stop_date = ExecutionStatus.ABORTED, stop_date
        self.error, self.cause = error or None, cause or None
    _interrupt_callbacks(self)


def _reflect_execution_status(self: Any) -> None:
    """Keep ABORTED once StopExecution said so (see _execution_stop)."""
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    if getattr(self.execution, "stackpilot_aborted", False):
        return
    _call_original(BaseExecutionWorkerCommunication, "_reflect_execution_status", self)


def _patch_stepfunctions() -> None:
    from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
    from moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function import (
        WaitFunction,
    )
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication, Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend
    from moto.stepfunctions.responses import StepFunctionResponse

    _replace(WaitFunction, "_wait_interval", _scaled_wait_interval, "sfn scaled Wait")
    # retrier_decl calls time.sleep(interval) after backoff/MaxDelay/jitter: give that module a
    # `time` whose sleep is scaled, leaving the global time module alone.
    current = vars(retrier_decl)["time"]
    if current is not time and getattr(current, "sleep", None) is not _scaled_sleep:
        raise RuntimeError(
            "stackpilot patch 'sfn scaled Retry': retrier_decl no longer sleeps via time.sleep"
        )
    _replace(retrier_decl, "time", types.SimpleNamespace(sleep=_scaled_sleep), "sfn scaled Retry")
    _replace(StepFunctionsParserBackend, "start_execution", _start_execution, "sfn unnamed execution")
    _replace(StepFunctionResponse, "send_task_failure", _send_task_failure, "sfn SendTaskFailure cause")
    _replace(Execution, "start", _execution_start, "sfn execution tracking")
    _replace(Execution, "stop", _execution_stop, "sfn StopExecution aborts at once")
    _replace(
        BaseExecutionWorkerCommunication,
        "_reflect_execution_status",
        _reflect_execution_status,
        "sfn StopExecution aborts at once",
    )


# --------------------------------------------------------------------------------------------------
# 3. STS: evaluate the target role's trust policy
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Caller:
    account_id: str
    principal_arn: str  # aws:PrincipalArn: role ARN for a role session, user ARN, or account root
    arn: str  # as AWS prints it in AccessDenied (the assumed-role session ARN for sessions)


class _AccessDenied(Exception):
    def __init__(self, caller_arn: str) -> None:
        super().__init__(caller_arn)
        self.caller_arn = caller_arn


def _resolve_caller(access_key: str | None) -> _Caller:
    from moto.iam.models import get_account_id_from, iam_backends
    from moto.sts.models import sts_backends

    key = access_key or SERVICE_ACCESS_KEY
    account_id = get_account_id_from(key)
    assumed = sts_backends[account_id]["aws"].get_assumed_role_from_access_key(key)
    if assumed is not None:
        return _Caller(account_id, _role_arn(account_id, assumed.role_arn), assumed.arn)
    user = iam_backends[account_id]["aws"].get_user_from_access_key_id(key)
    if user is not None:
        return _Caller(account_id, user.arn, user.arn)
    root = f"arn:aws:iam::{account_id}:root"
    return _Caller(account_id, root, root)


def _role_arn(account_id: str, role_arn: str) -> str:
    """The role's real ARN (with its path) when the role exists."""
    role = _find_role(account_id, role_arn)
    return role.arn if role is not None else role_arn


def _find_role(account_id: str, role_arn: str) -> Any:
    from moto.iam.models import iam_backends

    name = role_arn.rsplit("/", 1)[-1]
    for role in iam_backends[account_id]["aws"].roles.values():
        if role.name == name:
            return role
    return None


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]


def _wildcard_match(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, flags=re.DOTALL) is not None


def _arn_like(pattern: str, value: str) -> bool:
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_wildcard_match(p, v) for p, v in zip(pattern_parts, value_parts, strict=True))


_CONDITION_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda expected, actual: expected == actual,
    "StringLike": _wildcard_match,
    "ArnEquals": _arn_like,
    "ArnLike": _arn_like,
}
_CONDITION_KEYS = {"sts:externalid": "sts:ExternalId", "aws:principalarn": "aws:PrincipalArn"}
_ARN_OPERATORS = {"ArnEquals", "ArnLike"}


def _condition_matches(condition: Mapping[str, Any], context: Mapping[str, str | None]) -> bool | None:
    """True/False; None when an operator or key is not supported (callers fail closed)."""
    for operator, clauses in condition.items():
        compare = _CONDITION_OPERATORS.get(operator)
        if compare is None or not isinstance(clauses, Mapping):
            return None
        for raw_key, expected in clauses.items():
            key = _CONDITION_KEYS.get(str(raw_key).lower())
            if key is None or (operator in _ARN_OPERATORS and key != "aws:PrincipalArn"):
                return None
            actual = context.get(key)
            if actual is None or not any(compare(str(e), actual) for e in _as_list(expected)):
                return False
    return True


def _principal_matches(principal: Any, caller: _Caller) -> bool:
    if principal == "*":
        return True
    if not isinstance(principal, Mapping):
        return False
    for entry in _as_list(principal.get("AWS")):
        entry = str(entry)
        if entry in ("*", caller.account_id, f"arn:aws:iam::{caller.account_id}:root"):
            return True
        if entry in (caller.principal_arn, caller.arn):
            return True
    return False


def _action_matches(statement: Mapping[str, Any]) -> bool:
    return any(
        str(action).lower() in ("sts:assumerole", "sts:*", "*")
        for action in _as_list(statement.get("Action"))
    )


def _statement_verdict(
    statement: Mapping[str, Any], caller: _Caller, context: Mapping[str, str | None]
) -> str:
    """'allow', 'deny' or 'none' for one trust-policy statement."""
    effect = statement.get("Effect")
    if "NotPrincipal" in statement or "NotAction" in statement:
        # Not supported: an Allow never grants, a Deny always applies (fail closed).
        return "deny" if effect == "Deny" else "none"
    if not _action_matches(statement) or not _principal_matches(statement.get("Principal"), caller):
        return "none"
    matched = _condition_matches(statement.get("Condition") or {}, context)
    if matched is None:
        return "deny" if effect == "Deny" else "none"
    if not matched:
        return "none"
    return "deny" if effect == "Deny" else "allow" if effect == "Allow" else "none"


def _load_policy(document: Any) -> Mapping[str, Any]:
    if isinstance(document, Mapping):
        return document
    text = str(document or "{}")
    if text.startswith("%7B") or text.startswith("%7b"):
        text = unquote(text)
    loaded = json.loads(text)
    return loaded if isinstance(loaded, Mapping) else {}


def trust_policy_allows(policy_document: Any, caller: _Caller, external_id: str | None) -> bool:
    """Evaluate a role trust policy for sts:AssumeRole: explicit Deny wins, else any Allow."""
    context = {"sts:ExternalId": external_id, "aws:PrincipalArn": caller.principal_arn}
    verdicts = [
        _statement_verdict(statement, caller, context)
        for statement in _as_list(_load_policy(policy_document).get("Statement"))
        if isinstance(statement, Mapping)
    ]
    return "deny" not in verdicts and "allow" in verdicts


def _check_assume_role(role_arn: str, external_id: str | None, access_key: str | None) -> None:
    caller = _resolve_caller(access_key)
    match = re.match(r"arn:aws[\w-]*:iam::(\d{12}):role/", role_arn or "")
    role = _find_role(match.group(1), role_arn) if match else None
    if role is None or not trust_policy_allows(role.assume_role_policy_document, caller, external_id):
        raise _AccessDenied(caller.arn)


def _sts_assume_role(
    self: Any,
    region_name: str,
    role_session_name: str,
    role_arn: str,
    policy: str,
    duration: int,
    external_id: str,
) -> Any:
    from moto.core.exceptions import AccessDeniedError
    from moto.sts.models import STSBackend

    try:
        _check_assume_role(role_arn, external_id, _caller_access_key.get())
    except _AccessDenied as denied:
        # moto's 403 AccessDenied (as IAM access control raises it): boto3 sees code AccessDenied.
        raise AccessDeniedError(denied.caller_arn, f"sts:AssumeRole on resource: {role_arn}") from None
    return _call_original(
        STSBackend,
        "assume_role",
        self,
        region_name=region_name,
        role_session_name=role_session_name,
        role_arn=role_arn,
        policy=policy,
        duration=duration,
        external_id=external_id,
    )


def _sts_assume_role_with_web_identity(self: Any, **kwargs: Any) -> Any:
    """Web identity has no AWS principal: keep moto's unchecked behaviour."""
    from moto.sts.models import STSBackend

    return _call_original(STSBackend, "assume_role", self, **kwargs)


def _token_response_assume_role(self: Any) -> Any:
    """Remember who is calling: STSBackend.assume_role is not told."""
    from moto.sts.responses import TokenResponse

    token = _caller_access_key.set(self.get_access_key())
    try:
        return _call_original(TokenResponse, "assume_role", self)
    finally:
        _caller_access_key.reset(token)


def _patch_sts() -> None:
    from moto.sts.models import STSBackend
    from moto.sts.responses import TokenResponse

    _replace(STSBackend, "assume_role", _sts_assume_role, "sts trust policy evaluation")
    _replace(
        STSBackend,
        "assume_role_with_web_identity",
        _sts_assume_role_with_web_identity,
        "sts trust policy evaluation",
    )
    _replace(TokenResponse, "assume_role", _token_response_assume_role, "sts caller identity")


# --------------------------------------------------------------------------------------------------
# 4. EventBridge: Lambda and Step Functions targets, disabled rules, full envelope
# --------------------------------------------------------------------------------------------------

_ENVELOPE_KEYS = (
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
)


def _event_time(value: Any) -> str:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)


def _envelope(event: Mapping[str, Any]) -> dict[str, Any]:
    """The event exactly as AWS delivers it to a target (moto's default template drops account)."""
    envelope = {key: event.get(key) for key in _ENVELOPE_KEYS}
    envelope["version"] = envelope["version"] or "0"
    envelope["time"] = _event_time(event.get("time"))
    envelope["resources"] = envelope["resources"] or []
    return envelope


def _target_input(target: Mapping[str, Any], event: Mapping[str, Any]) -> Any:
    from moto.events.utils import EventTemplateParser

    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse  # type: ignore[attr-defined]

        matches = parse(target["InputPath"]).find(_envelope(event))
        return matches[0].value if matches else None
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=dict(event),  # type: ignore[arg-type]
        )
    return _envelope(event)


def _deliver_to_lambda(function_arn: str, payload: Any) -> None:
    try:
        invoke_async(_lambda_function(function_arn), payload)
    except Exception:
        LOG.exception("EventBridge could not deliver to %s", function_arn)


def _deliver_to_state_machine(state_machine_arn: str, payload: Any) -> None:
    from moto.stepfunctions.responses import get_backend

    parts = state_machine_arn.split(":")

    def start() -> None:
        try:
            backend = get_backend(parts[4], parts[3])
            backend.start_execution(state_machine_arn, None, json.dumps(payload))  # type: ignore[arg-type]
        except Exception:
            LOG.exception("EventBridge could not start %s", state_machine_arn)

    _spawn(start, "events-to-sfn")


def _customises_input(target: Mapping[str, Any]) -> bool:
    return any(key in target for key in ("Input", "InputPath", "InputTransformer"))


def _deliver_to_queue(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any]) -> None:
    """Plain SQS targets get the full envelope too (moto's default template drops `account`)."""
    envelope = _envelope(event)
    envelope["time"] = event.get("time")  # moto's SQS delivery formats the epoch time itself
    group_id = target.get("SqsParameters", {}).get("MessageGroupId")
    rule._send_to_sqs_queue(target["Arn"].split(":")[5], envelope, group_id)


def _deliver(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any], transform: bool) -> bool:
    """Deliver one target ourselves; False leaves it to moto."""
    service = target["Arn"].split(":")[2]
    if service == "sqs" and not _customises_input(target):
        _deliver_to_queue(rule, target, event)
        return True
    if service not in ("lambda", "states"):
        return False
    payload = _target_input(target, event) if transform else _envelope(event)
    if service == "lambda":
        _deliver_to_lambda(target["Arn"], payload)
    else:
        _deliver_to_state_machine(target["Arn"], payload)
    return True


def _rule_send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
    """Rule.send_to_targets: skip disabled rules, deliver Lambda/SFN targets asynchronously."""
    from moto.events.models import Rule

    if self.state != "ENABLED" or (self.scheduled_expression and not self.event_pattern.get_pattern()):
        return
    if not self.event_pattern.matches_event(original_event):
        return
    theirs = [t for t in self.targets if not _deliver(self, t, original_event, transform_input)]
    if theirs:
        # moto handles the rest (logs, archives, buses, API destinations) on a copy of the rule.
        shallow = Rule.__new__(Rule)
        shallow.__dict__.update(self.__dict__, targets=theirs)
        _call_original(Rule, "send_to_targets", shallow, original_event, transform_input)


def _patch_events() -> None:
    from moto.events.models import Rule

    _replace(Rule, "send_to_targets", _rule_send_to_targets, "eventbridge lambda/sfn targets")


# --------------------------------------------------------------------------------------------------
# 5. CloudFormation: custom resources answered through S3, async stacks, rollback, hooks
# --------------------------------------------------------------------------------------------------


class _ResourceFailed(Exception):
    def __init__(self, logical_id: str, resource_type: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason


def _is_custom_type(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == CUSTOM_RESOURCE_TYPE


def _has_custom_resources(template: Mapping[str, Any] | None) -> bool:
    resources = (template or {}).get("Resources") or {}
    return any(_is_custom_type(str(r.get("Type", ""))) for r in resources.values() if isinstance(r, Mapping))


def _matching_rule(rules: list[Any], stack_name: str, pop: bool) -> Any:
    with _state.lock:
        for rule in rules:
            if stack_name.startswith(rule.stack_name_prefix):
                if pop:
                    rules.remove(rule)
                return rule
    return None


def _needs_async(stack: Any, template: Mapping[str, Any] | None = None) -> bool:
    if _has_custom_resources(template if template is not None else stack.template_dict):
        return True
    if _state.completion_hook is not None:
        return True
    return bool(
        _matching_rule(_state.failure_rules, stack.name, pop=False)
        or _matching_rule(_state.delay_rules, stack.name, pop=False)
    )


def _add_resource_event(
    stack: Any,
    logical_id: str,
    resource_type: str,
    status: str,
    physical_id: str | None = None,
    reason: str | None = None,
) -> None:
    from moto.cloudformation.models import Event

    event = Event(
        stack_id=stack.stack_id,
        stack_name=stack.name,
        logical_resource_id=logical_id,
        physical_resource_id=physical_id or "",
        resource_type=resource_type,
        resource_status=status,
        resource_status_reason=reason,
        resource_properties=None,
    )
    stack.events.append(event)


def _stack_for(stack_id: str, account_id: str, region_name: str) -> Any:
    from moto.cloudformation.models import cloudformation_backends

    return cloudformation_backends[account_id][region_name].get_stack(stack_id)


# --- the request/response round trip -------------------------------------------------------------


def _response_url(region: str, key: str) -> str:
    """A URL shaped like CloudFormation's pre-signed S3 PUT URL for `key`."""
    now = dt.datetime.now(tz=dt.UTC)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    credential = quote(f"AKIA6GMLSTACKPILOT01/{now:%Y%m%d}/{region}/s3/aws4_request", safe="")
    signature = hmac.new(b"stackpilot-local", key.encode(), hashlib.sha256).hexdigest()
    host = f"{custom_resource_response_bucket(region)}.s3.amazonaws.com"
    return (
        f"https://{host}/{quote(key, safe='/')}?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date={stamp}"
        f"&X-Amz-SignedHeaders=host&X-Amz-Expires=7200&X-Amz-Credential={credential}"
        f"&X-Amz-Signature={signature}"
    )


def _s3_backend() -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[_state.service_account]["aws"]


def _ensure_response_bucket(region: str) -> str:
    name = custom_resource_response_bucket(region)
    backend = _s3_backend()
    if name not in backend.buckets:
        backend.create_bucket(name, region)
    return name


def _read_response(bucket_name: str, key: str) -> bytes | None:
    bucket = _s3_backend().buckets.get(bucket_name)
    if bucket is None:
        return None
    for candidate in (key, quote(key, safe="/")):
        stored = bucket.keys.get(candidate)
        if stored is not None:
            return bytes(stored.value)
    return None


def _poll_interval() -> float:
    return min(_POLL_SECONDS, max(_MIN_POLL_SECONDS, _POLL_SECONDS * _scale() * 5))


def _await_response(bucket_name: str, key: str, timeout_seconds: float) -> bytes | None:
    generation = getattr(_tls, "generation", _state.generation)
    # Scaled like everything else, but never below a minute (or the real timeout, if shorter):
    # handler work is not scaled, and a cold import alone can take a second or two.
    deadline = time.monotonic() + max(timeout_seconds * _scale(), min(timeout_seconds, 60.0))
    while time.monotonic() < deadline:
        if generation != _state.generation:
            raise _Aborted(key)
        body = _read_response(bucket_name, key)
        if body is not None:
            return body
        _state.interrupt.wait(_poll_interval())
    return _read_response(bucket_name, key)


def _deliver_request(service_token: str, event: Mapping[str, Any]) -> None:
    from moto.sns.models import sns_backends

    parts = service_token.split(":")
    service = parts[2] if len(parts) > 5 else ""
    if service == "sns":
        backend = sns_backends[parts[4]][parts[3]]
        backend.publish(
            json.dumps(event), arn=service_token, subject="AWS CloudFormation custom resource request"
        )
    elif service == "lambda":
        invoke_async(_lambda_function(service_token), dict(event))
    else:
        raise ValueError(f"Invalid service token {service_token}")


@dataclass
class _CustomRequest:
    stack: Any
    logical_id: str
    resource_type: str
    request_type: str
    properties: dict[str, Any]
    physical_id: str | None = None
    old_properties: dict[str, Any] | None = None


def _request_event(request: _CustomRequest, request_id: str, response_url: str) -> dict[str, Any]:
    event: dict[str, Any] = {
        "RequestType": request.request_type,
        "ServiceToken": request.properties.get("ServiceToken"),
        "ResponseURL": response_url,
        "StackId": request.stack.stack_id,
        "RequestId": request_id,
        "LogicalResourceId": request.logical_id,
        "ResourceType": request.resource_type,
        "ResourceProperties": request.properties,
    }
    if request.physical_id is not None:
        event["PhysicalResourceId"] = request.physical_id
    if request.old_properties is not None:
        event["OldResourceProperties"] = request.old_properties
    return event


def _service_timeout(properties: Mapping[str, Any]) -> float:
    try:
        return float(properties.get("ServiceTimeout", DEFAULT_SERVICE_TIMEOUT_SECONDS))
    except (TypeError, ValueError):
        return float(DEFAULT_SERVICE_TIMEOUT_SECONDS)


def _parse_response(request: _CustomRequest, body: bytes | None, request_id: str) -> dict[str, Any]:
    """The responder's JSON, or _ResourceFailed with the reason CloudFormation would show."""

    def fail(reason: str) -> _ResourceFailed:
        return _ResourceFailed(request.logical_id, request.resource_type, reason)

    if body is None:
        raise fail(
            "CloudFormation did not receive a response from your Custom Resource. Please check your "
            f"logs for requestId [{request_id}]. If you are using the Python cfn-response module, you "
            "may need to update your Lambda function code so that CloudFormation can attach the "
            "updated version."
        )
    try:
        response = json.loads(body)
    except ValueError:
        raise fail(f"Invalid response object: {body[:200]!r} is not valid JSON") from None
    if not isinstance(response, dict):
        raise fail("Invalid response object: not a JSON object")
    if response.get("Status") != "SUCCESS":
        raise fail(
            f"Received response status [{response.get('Status')}] from custom resource. "
            f"Message returned: {response.get('Reason')}"
        )
    if not response.get("PhysicalResourceId"):
        raise fail("Invalid PhysicalResourceId")
    return response


def _send_custom_resource_request(request: _CustomRequest) -> dict[str, Any]:
    """Deliver the request to the ServiceToken and block until the S3 response or ServiceTimeout."""
    region = request.stack.region_name
    request_id = str(uuid.uuid4())
    key = f"{request.stack.stack_id}|{request.logical_id}|{request_id}"
    bucket = _ensure_response_bucket(region)
    event = _request_event(request, request_id, _response_url(region, key))
    try:
        _deliver_request(str(request.properties.get("ServiceToken")), event)
    except Exception as exc:
        raise _ResourceFailed(
            request.logical_id, request.resource_type, f"Failed to deliver request: {exc}"
        ) from exc
    body = _await_response(bucket, key, _service_timeout(request.properties))
    return _parse_response(request, body, request_id)


# --- CustomModel replacements ---------------------------------------------------------------------


def _new_custom_model(request: _CustomRequest, response: Mapping[str, Any]) -> Any:
    from moto.cloudformation.custom_model import CustomModel

    custom_model_class: Any = CustomModel  # moto's model class, typed abstract
    model = custom_model_class(
        request.stack.region_name,
        str(response.get("RequestId", "")),
        request.logical_id,
        str(response["PhysicalResourceId"]),
    )
    model.set_data(dict(response.get("Data") or {}))
    model.stackpilot_stack = request.stack
    model.stackpilot_type = request.resource_type
    model.stackpilot_properties = request.properties
    request.stack.add_custom_resource(model)
    return model


def _custom_create(
    cls: Any,
    /,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    stack = _stack_for(kwargs["StackId"], account_id, region_name)
    request = _CustomRequest(
        stack=stack,
        logical_id=kwargs["LogicalId"],
        resource_type=kwargs["ResourceType"],
        request_type="Create",
        properties=dict(cloudformation_json.get("Properties") or {}),
    )
    return _new_custom_model(request, _send_custom_resource_request(request))


def _custom_update(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    stack = original_resource.stackpilot_stack
    request = _CustomRequest(
        stack=stack,
        logical_id=original_resource.logical_id,
        resource_type=str(cloudformation_json.get("Type", original_resource.stackpilot_type)),
        request_type="Update",
        properties=dict(cloudformation_json.get("Properties") or {}),
        physical_id=original_resource.physical_resource_id,
        old_properties=original_resource.stackpilot_properties,
    )
    _add_resource_event(
        stack, request.logical_id, request.resource_type, "UPDATE_IN_PROGRESS", request.physical_id
    )
    try:
        model = _new_custom_model(request, _send_custom_resource_request(request))
    except _ResourceFailed as failed:
        _add_resource_event(
            stack,
            request.logical_id,
            request.resource_type,
            "UPDATE_FAILED",
            request.physical_id,
            failed.reason,
        )
        raise
    _add_resource_event(
        stack, request.logical_id, request.resource_type, "UPDATE_COMPLETE", model.physical_resource_id
    )
    if model.physical_resource_id != original_resource.physical_resource_id:
        _delete_replaced(original_resource)
    return model


def _delete_replaced(original_resource: Any) -> None:
    """A new PhysicalResourceId means replacement: AWS deletes the old one during cleanup."""
    try:
        _custom_delete(original_resource, "", "")
    except _ResourceFailed as failed:
        LOG.warning("cleanup of replaced custom resource failed: %s", failed.reason)


def _custom_delete(self: Any, account_id: str, region_name: str) -> None:
    failure = getattr(self, "stackpilot_delete_failure", None)
    if failure is not None:
        raise failure  # moto's delete loop retries; AWS sends one Delete
    stack = self.stackpilot_stack
    request = _CustomRequest(
        stack=stack,
        logical_id=self.logical_id,
        resource_type=self.stackpilot_type,
        request_type="Delete",
        properties=self.stackpilot_properties,
        physical_id=self.physical_resource_id,
    )
    _add_resource_event(
        stack, self.logical_id, self.stackpilot_type, "DELETE_IN_PROGRESS", self.physical_resource_id
    )
    try:
        _send_custom_resource_request(request)
    except _ResourceFailed as failed:
        self.stackpilot_delete_failure = failed
        _add_resource_event(
            stack,
            self.logical_id,
            self.stackpilot_type,
            "DELETE_FAILED",
            self.physical_resource_id,
            failed.reason,
        )
        raise
    _add_resource_event(
        stack, self.logical_id, self.stackpilot_type, "DELETE_COMPLETE", self.physical_resource_id
    )


# --- resource creation events and guards --------------------------------------------------------


def _in_background_for(stack_id: str) -> bool:
    return _state.busy_stacks.get(stack_id) is threading.current_thread()


def _parse_and_create_resource(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    """Emit per-resource events while a stack is created in the background.

    Outside the background thread a managed stack must never create resources lazily (moto's
    ResourceMap creates on first access, e.g. from DescribeStacks outputs): that would send a
    second Create to a custom resource.
    """
    from moto.cloudformation import parsing

    stack_id = resources_map.stack_id
    if stack_id in _state.managed_stacks and not _in_background_for(stack_id):
        return None
    if not _in_background_for(stack_id):
        return _call_original(
            parsing,
            "parse_and_create_resource",
            logical_id,
            resource_json,
            resources_map,
            account_id,
            region_name,
        )
    return _create_with_events(logical_id, resource_json, resources_map, account_id, region_name)


def _create_with_events(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    from moto.cloudformation import parsing

    stack = _tls.stack
    resource_type = str(resource_json.get("Type", ""))
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None
    _add_resource_event(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
    try:
        resource = _call_original(
            parsing,
            "parse_and_create_resource",
            logical_id,
            resource_json,
            resources_map,
            account_id,
            region_name,
        )
    except (_ResourceFailed, _Aborted):
        raise
    except Exception as exc:
        raise _ResourceFailed(logical_id, resource_type, f"{type(exc).__name__}: {exc}") from exc
    if resource is not None:
        _created_list(stack).append(logical_id)
        physical_id = getattr(resource, "physical_resource_id", None)
        _add_resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", str(physical_id or ""))
    return resource


def _resource_class_from_type(resource_type: str) -> Any:
    from moto.cloudformation import parsing
    from moto.cloudformation.custom_model import CustomModel

    if resource_type == CUSTOM_RESOURCE_TYPE:
        return CustomModel
    return _call_original(parsing, "resource_class_from_type", resource_type)


# --- asynchronous stack operations ----------------------------------------------------------------


def _run_in_background(stack: Any, name: str, work: Callable[[], None]) -> None:
    generation = _state.generation

    def runner() -> None:
        _tls.stack, _tls.generation = stack, generation
        try:
            work()
        except _Aborted:
            LOG.info("background %s of %s aborted by stop_executions()", name, stack.name)
        except Exception:
            LOG.exception("background %s of %s crashed", name, stack.name)
        finally:
            _tls.stack = None
            with _state.lock:
                if _state.busy_stacks.get(stack.stack_id) is threading.current_thread():
                    del _state.busy_stacks[stack.stack_id]

    thread = threading.Thread(target=runner, name=f"stackpilot-cfn-{name}", daemon=True)
    with _state.lock:
        _state.managed_stacks.add(stack.stack_id)
        _state.busy_stacks[stack.stack_id] = thread
        _state.threads.append(thread)
    thread.start()


def _created_list(stack: Any) -> list[str]:
    """Logical ids in the order the background thread created them (for reverse-order deletes)."""
    if not hasattr(stack, "stackpilot_created"):
        stack.stackpilot_created = []
    return stack.stackpilot_created  # type: ignore[no-any-return]


def _delete_order(stack: Any) -> list[str]:
    created = list(_created_list(stack))
    if not created:
        created = stack.resource_map._ResourceMap__get_resources_in_dependency_order()
    return list(reversed(created))


def _delete_resources(stack: Any, *, skip_retained: bool) -> None:
    """Delete in reverse creation order; custom-resource failures propagate, moto's others don't.

    moto's own deletes can fail for reasons AWS would not have (e.g. a role with attached
    policies); those are logged and ignored so that only custom resources decide the outcome.
    """
    from moto.cloudformation.custom_model import CustomModel

    resource_map = stack.resource_map
    for logical_id in _delete_order(stack):
        resource = resource_map._parsed_resources.get(logical_id)
        resource_json = resource_map._resource_json_map.get(logical_id) or {}
        if resource is None or isinstance(resource, str | int | float | list | dict):
            continue
        if skip_retained and resource_json.get("DeletionPolicy") == "Retain":
            continue
        try:
            resource_map._delete_resource(resource, resource_json)
        except (_ResourceFailed, _Aborted):
            raise
        except Exception:
            if isinstance(resource, CustomModel):
                raise
            LOG.debug("moto could not delete %s; ignored", logical_id, exc_info=True)
        resource_map._parsed_resources.pop(logical_id, None)


def _roll_back_creation(stack: Any, failure: _ResourceFailed) -> None:
    reason = (
        f"The following resource(s) failed to create: [{failure.logical_id}]. Rollback requested by user."
    )
    stack.status, stack.status_reason = "ROLLBACK_IN_PROGRESS", reason
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
    try:
        _delete_resources(stack, skip_retained=True)
    except _ResourceFailed as failed:
        stack.status, stack.status_reason = "ROLLBACK_FAILED", failed.reason
        stack._add_stack_event("ROLLBACK_FAILED", resource_status_reason=failed.reason)
        return
    stack.status, stack.status_reason = "ROLLBACK_COMPLETE", None
    stack._add_stack_event("ROLLBACK_COMPLETE")


def _fail_resource(stack: Any, failure: _ResourceFailed) -> None:
    _add_resource_event(
        stack, failure.logical_id, failure.resource_type, "CREATE_FAILED", reason=failure.reason
    )
    _roll_back_creation(stack, failure)


def _failure_from(exc: Exception, stack: Any) -> _ResourceFailed:
    """Any error of a background operation fails the stack instead of leaving it *_IN_PROGRESS."""
    if isinstance(exc, _ResourceFailed):
        return exc
    return _ResourceFailed(stack.name, "AWS::CloudFormation::Stack", f"{type(exc).__name__}: {exc}")


def _create_in_background(stack: Any) -> None:
    try:
        stack.resource_map.create(stack.template_dict)
        stack.description = stack.template_dict.get("Description")
        stack.mark_creation_complete()
    except _Aborted:
        raise
    except Exception as exc:
        _fail_resource(stack, _failure_from(exc, stack))


def _stack_create_resources(self: Any) -> None:
    """Stack.create_resources: asynchronous when custom resources or creation hooks are involved."""
    from moto.cloudformation.models import Stack

    if not _needs_async(self):
        _call_original(Stack, "create_resources", self)
        return
    self.status = "CREATE_IN_PROGRESS"
    self.stackpilot_created = []
    _run_in_background(self, "create", lambda: _create_in_background(self))


def _completion_failure(stack: Any) -> tuple[str, str] | None:
    delay = _matching_rule(_state.delay_rules, stack.name, pop=True)
    if delay is not None:
        _scaled_sleep(delay.seconds)
    rule = _matching_rule(_state.failure_rules, stack.name, pop=True)
    if rule is not None:
        return rule.logical_id, rule.reason
    hook = _state.completion_hook
    return hook(stack) if hook is not None else None


def _stack_mark_creation_complete(self: Any) -> None:
    from moto.cloudformation.models import Stack

    outcome = _completion_failure(self)
    if outcome is None:
        _call_original(Stack, "mark_creation_complete", self)
        return
    logical_id, reason = outcome
    resource_json = (self.template_dict.get("Resources") or {}).get(logical_id) or {}
    _fail_resource(self, _ResourceFailed(logical_id, str(resource_json.get("Type", "")), reason))


def _update_in_background(stack: Any, parameters: dict[str, Any] | None, previous: tuple[Any, Any]) -> None:
    try:
        stack.resource_map.update(stack.template_dict, parameters)
        stack.output_map = stack._create_output_map()
    except _Aborted:
        raise
    except Exception as exc:
        failed = _failure_from(exc, stack)
        reason = f"The following resource(s) failed to update: [{failed.logical_id}]. "
        stack.status, stack.status_reason = "UPDATE_ROLLBACK_IN_PROGRESS", reason
        stack._add_stack_event("UPDATE_ROLLBACK_IN_PROGRESS", resource_status_reason=reason)
        # moto cannot undo resource changes: the template is restored, resources stay as they are.
        stack.template, stack.template_dict = previous
        stack.status, stack.status_reason = "UPDATE_ROLLBACK_COMPLETE", None
        stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE")
        return
    stack.status = "UPDATE_COMPLETE"
    stack._add_stack_event("UPDATE_COMPLETE")


def _stack_update(
    self: Any,
    template: str,
    role_arn: str | None = None,
    parameters: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Stack.update: asynchronous when a custom resource is in the old or the new template."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import Stack

    if self.status.endswith("_IN_PROGRESS"):
        raise ValidationError(
            self.stack_id, message=f"Stack:{self.stack_id} is in {self.status} state and can not be updated."
        )
    new_template = Stack.parse_template(template) if isinstance(template, str) else template
    if not (_needs_async(self) or _needs_async(self, new_template)):
        _call_original(Stack, "update", self, template, role_arn, parameters=parameters, tags=tags)
        return
    previous = (self.template, self.template_dict)
    self._add_stack_event("UPDATE_IN_PROGRESS", resource_status_reason="User Initiated")
    self.status = "UPDATE_IN_PROGRESS"
    self.template = template
    self._parse_template()
    self.role_arn = role_arn
    if parameters:
        self.parameters = parameters
    if tags is not None:
        self.tags = tags
    _run_in_background(self, "update", lambda: _update_in_background(self, parameters, previous))


def _export_names(stack: Any) -> list[str]:
    try:
        return [export.name for export in stack.exports]
    except Exception:
        return []


def _delete_in_background(backend: Any, stack: Any) -> None:
    export_names = _export_names(stack)  # resolvable only while the resources exist
    try:
        _delete_resources(stack, skip_retained=True)
    except _Aborted:
        raise
    except Exception as exc:
        failed = _failure_from(exc, stack)
        reason = f"The following resource(s) failed to delete: [{failed.logical_id}]. "
        stack.status, stack.status_reason = "DELETE_FAILED", reason
        stack._add_stack_event("DELETE_FAILED", resource_status_reason=reason)
        return
    stack._add_stack_event("DELETE_COMPLETE")
    stack.status, stack.status_reason = "DELETE_COMPLETE", None
    backend.deleted_stacks[stack.stack_id] = stack
    backend.stacks.pop(stack.stack_id, None)
    for name in export_names:
        backend.exports.pop(name, None)


def _find_live_stack(backend: Any, name_or_stack_id: str) -> Any:
    if name_or_stack_id in backend.stacks:
        return backend.stacks[name_or_stack_id]
    return next((s for s in backend.stacks.values() if s.name == name_or_stack_id), None)


def _backend_delete_stack(self: Any, name_or_stack_id: str) -> None:
    """CloudFormationBackend.delete_stack: asynchronous for stacks holding custom resources."""
    from moto.cloudformation.models import CloudFormationBackend

    stack = _find_live_stack(self, name_or_stack_id)
    if stack is None or stack.stack_id not in _state.managed_stacks:
        _call_original(CloudFormationBackend, "delete_stack", self, name_or_stack_id)
        return
    if stack.status == "DELETE_IN_PROGRESS" or stack.stack_id in _state.busy_stacks:
        return
    stack.status = "DELETE_IN_PROGRESS"
    stack._add_stack_event("DELETE_IN_PROGRESS", resource_status_reason="User Initiated")
    _run_in_background(stack, "delete", lambda: _delete_in_background(self, stack))


def _finish_change_set(change_set: Any, stack: Any) -> None:
    change_set.apply()
    stack.template = change_set.template
    stack._parse_template()
    # The stack was born with an empty template: its outputs come from the change set's.
    stack.output_map = stack._create_output_map()
    change_set.execution_status = "EXECUTE_COMPLETE"
    if change_set.change_set_type == "CREATE":
        stack.mark_creation_complete()
    else:
        stack.status = "UPDATE_COMPLETE"
        stack._add_stack_event("UPDATE_COMPLETE")


def _execute_in_background(backend: Any, change_set: Any, stack: Any) -> None:
    try:
        _finish_change_set(change_set, stack)
    except _Aborted:
        raise
    except Exception as exc:
        failure = _failure_from(exc, stack)
        change_set.execution_status = "EXECUTE_FAILED"
        if change_set.change_set_type == "CREATE":
            _fail_resource(stack, failure)
        else:
            stack.status = "UPDATE_ROLLBACK_COMPLETE"
            stack._add_stack_event("UPDATE_ROLLBACK_COMPLETE", resource_status_reason=failure.reason)


def _backend_execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """CloudFormationBackend.execute_change_set: asynchronous when custom resources are involved."""
    from moto.cloudformation.models import CloudFormationBackend

    change_set = self.change_sets.get(change_set_name) or next(
        (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
    )
    if change_set is None or not _needs_async(change_set.stack, change_set.template_dict):
        _call_original(CloudFormationBackend, "execute_change_set", self, change_set_name, stack_name)
        return
    stack = self.stacks[change_set.stack_id]
    kind = change_set.change_set_type
    stack.status = f"{kind}_IN_PROGRESS"
    stack._add_stack_event(f"{kind}_IN_PROGRESS", resource_status_reason="User Initiated")
    change_set.execution_status = "EXECUTE_IN_PROGRESS"
    stack.stackpilot_created = []
    _run_in_background(stack, "change-set", lambda: _execute_in_background(self, change_set, stack))


_OUTPUT_STATUSES = frozenset({"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"})


def _stack_outputs(self: Any) -> list[dict[str, Any]] | None:
    """Outputs of a managed stack exist only once it is complete (AWS shows none before).

    moto resolves outputs lazily on every Describe; on a stack whose resources were rolled back
    or deleted that would raise, so such stacks simply show no outputs.
    """
    from moto.cloudformation.models import Stack

    if self.stack_id not in _state.managed_stacks:
        return _original(Stack, "outputs").fget(self)  # type: ignore[no-any-return]
    if self.status not in _OUTPUT_STATUSES:
        return None
    try:
        return _original(Stack, "outputs").fget(self)  # type: ignore[no-any-return]
    except Exception:
        LOG.debug("outputs of %s not resolvable", self.name, exc_info=True)
        return None


def _stack_resources(self: Any) -> list[Any]:
    """Only resources that exist: moto's lazy map would otherwise create them on a Describe."""
    resource_map = self.resource_map
    parsed = dict(resource_map._parsed_resources)
    return [
        parsed[logical_id]
        for logical_id in list(resource_map._resource_json_map)
        if parsed.get(logical_id) is not None and not isinstance(parsed[logical_id], str)
    ]


# --- template checks: parameter constraints and the Rules section ---------------------------------


def _check_parameter(name: str, slot: Mapping[str, Any], value: Any) -> str | None:
    if value is None or isinstance(value, list):
        return None
    text, description = str(value), slot.get("ConstraintDescription")
    pattern = slot.get("AllowedPattern")
    constraint = f"Parameter {name} failed to satisfy constraint: {description}" if description else None
    if pattern is not None and re.fullmatch(str(pattern), text) is None:
        return constraint or f"Parameter '{name}' must match pattern {pattern}"
    allowed = slot.get("AllowedValues")
    if allowed is not None and text not in [str(v) for v in allowed]:
        return constraint or f"Parameter '{name}' must be one of AllowedValues"
    if "MinLength" in slot and len(text) < int(slot["MinLength"]):
        return f"Parameter '{name}' must contain at least {slot['MinLength']} characters"
    if "MaxLength" in slot and len(text) > int(slot["MaxLength"]):
        return f"Parameter '{name}' must contain at most {slot['MaxLength']} characters"
    return None


_UNSUPPORTED = object()


def _rule_value(expression: Any, values: Mapping[str, Any]) -> Any:
    """Evaluate a Rules-section expression; _UNSUPPORTED for functions not implemented here."""
    if not isinstance(expression, Mapping) or len(expression) != 1:
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        return values.get(argument, _UNSUPPORTED)
    args = [_rule_value(a, values) for a in _as_list(argument)]
    if any(a is _UNSUPPORTED for a in args):
        return _UNSUPPORTED
    operations: dict[str, Callable[[list[Any]], Any]] = {
        "Fn::Equals": lambda a: str(a[0]) == str(a[1]),
        "Fn::Not": lambda a: not a[0],
        "Fn::And": all,
        "Fn::Or": any,
        "Fn::Contains": lambda a: str(a[1]) in [str(x) for x in _as_list(a[0])],
        "Fn::EachMemberEquals": lambda a: all(str(x) == str(a[1]) for x in _as_list(a[0])),
        "Fn::EachMemberIn": lambda a: all(str(x) in [str(y) for y in _as_list(a[1])] for x in _as_list(a[0])),
    }
    operation = operations.get(str(function))
    return operation(args) if operation is not None else _UNSUPPORTED


def _check_rules(template: Mapping[str, Any], values: Mapping[str, Any]) -> str | None:
    """First failed assertion of the template's Rules section (unsupported functions are skipped)."""
    for rule_name, rule in (template.get("Rules") or {}).items():
        applies = _rule_value(rule.get("RuleCondition", True), values)
        if applies is _UNSUPPORTED or not applies:
            continue
        for assertion in rule.get("Assertions") or []:
            verdict = _rule_value(assertion.get("Assert"), values)
            if verdict is not _UNSUPPORTED and not verdict:
                return str(assertion.get("AssertDescription") or f"Template error: rule {rule_name} failed")
    return None


def _load_parameters(self: Any) -> None:
    """ResourceMap.load_parameters + AllowedPattern/AllowedValues/Length checks + Rules."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.parsing import ResourceMap

    _call_original(ResourceMap, "load_parameters", self)
    slots = self._template.get("Parameters") or {}
    for name, slot in slots.items():
        problem = _check_parameter(name, slot, self.resolved_parameters.get(name))
        if problem:
            raise ValidationError(message=problem)
    values = {k: v for k, v in self._parsed_resources.items() if isinstance(v, str | int | float | list)}
    problem = _check_rules(self._template, values)
    if problem:
        raise ValidationError(message=problem)


def _patch_cloudformation() -> None:
    from moto.cloudformation import parsing
    from moto.cloudformation.custom_model import CustomModel
    from moto.cloudformation.models import CloudFormationBackend, Stack
    from moto.iam.models import Role as IamRole

    name = "cloudformation custom resources"
    _replace(CustomModel, "create_from_cloudformation_json", classmethod(_custom_create), name)
    # CustomModel inherits these; set (not _replace) them on the class itself.
    _require_version(name)
    CustomModel.update_from_cloudformation_json = classmethod(_custom_update)  # type: ignore[assignment,method-assign]
    CustomModel.delete = _custom_delete  # type: ignore[attr-defined]
    _replace(parsing, "resource_class_from_type", _resource_class_from_type, name)
    _replace(
        parsing, "parse_and_create_resource", _parse_and_create_resource, "cloudformation resource events"
    )
    _replace(Stack, "create_resources", _stack_create_resources, "cloudformation async create")
    _replace(Stack, "mark_creation_complete", _stack_mark_creation_complete, "cloudformation completion hook")
    _replace(Stack, "update", _stack_update, "cloudformation async update")
    _replace(Stack, "outputs", property(_stack_outputs), "cloudformation outputs when complete")
    _replace(Stack, "stack_resources", property(_stack_resources), "cloudformation existing resources")
    _replace(CloudFormationBackend, "delete_stack", _backend_delete_stack, "cloudformation async delete")
    _replace(
        CloudFormationBackend,
        "execute_change_set",
        _backend_execute_change_set,
        "cloudformation async change set",
    )
    _replace(parsing.ResourceMap, "load_parameters", _load_parameters, "cloudformation parameter constraints")
    _patch_template_urls()
    _replace(
        IamRole,
        "update_from_cloudformation_json",
        classmethod(_role_update),
        "cloudformation role trust update",
    )


def _role_update(
    cls: Any,
    original_resource: Any,
    new_resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
) -> Any:
    """moto updates only a role's description on UpdateStack; AWS also applies a changed trust policy
    (which is what re-verification after an update must see)."""
    from moto.iam.models import Role, iam_backends

    role = _call_original(
        Role,
        "update_from_cloudformation_json",
        cls,
        original_resource,
        new_resource_name,
        cloudformation_json,
        account_id,
        region_name,
    )
    trust = cloudformation_json.get("Properties", {}).get("AssumeRolePolicyDocument")
    if trust is not None:
        document = trust if isinstance(trust, str) else json.dumps(trust)
        iam_backends[account_id]["global"].update_assume_role_policy(role.name, document)
    return role


def _template_from_url(template_url: str, account_id: str, partition: str) -> str:
    """TemplateURL as CloudFormation reads it: any S3 URL, including the emulator's own path-style
    presigned URLs (http://127.0.0.1:4566/<bucket>/<key>?...), which moto parses as a bucket "127"."""
    from urllib.parse import unquote, urlsplit

    from moto.cloudformation import utils

    parts = urlsplit(template_url)
    host = (parts.hostname or "").lower()
    if host.endswith("amazonaws.com") or host == "localhost":
        return str(_call_original(utils, "get_stack_from_s3_url", template_url, account_id, partition))
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    from moto.s3.models import s3_backends

    # Buckets are global: the template lives in the service account, the stack in the customer's.
    stored = s3_backends[account_id][partition].get_object(bucket, key)
    return stored.value.decode("utf-8")  # type: ignore[union-attr]


def _patch_template_urls() -> None:
    from moto.cloudformation import models, responses, utils

    name = "cloudformation TemplateURL on the local endpoint"
    _replace(utils, "get_stack_from_s3_url", _template_from_url, name)
    for module in (models, responses):  # both imported the function by name
        _require_version(name)
        module.get_stack_from_s3_url = _template_from_url  # type: ignore[attr-defined]


def installed_patches() -> Iterable[str]:
    """Names of the moto attributes currently replaced (for diagnostics)."""
    return sorted(f"{key[1]}" for key in _state.originals)


__all__ = [
    "CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX",
    "LambdaContext",
    "clear_stack_hooks",
    "custom_resource_response_bucket",
    "delay_next_stack_creation",
    "enable_state_machine_execution",
    "fail_next_stack_creation",
    "install",
    "invoke_async",
    "register_service_account",
    "set_stack_completion_hook",
    "set_time_scale",
    "stop_executions",
    "trust_policy_allows",
]
