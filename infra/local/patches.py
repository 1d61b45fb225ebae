"""Every patch of moto internals the local cloud needs, in one place.

moto has no plug-in API for what the local cloud needs (Lambdas that really run, Step Functions
that wait in scaled time, STS that evaluates trust policies, EventBridge targets, CloudFormation
custom resources answered through S3, stack status events, AWS's stack status sequences with
injected faults, the resource types of an application stack), so each behaviour below replaces a
moto internal. Every replacement is pinned to the moto version it was written against: `install()`
refuses to patch any other version, and `tests/infrastructure/test_local_cloud_patches.py` and
`tests/infrastructure/test_local_cloud_stacks.py` smoke-test every patch, so a moto upgrade fails
loudly instead of silently changing behaviour.

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
class _StackRule:
    """A fault or delay injected into the next stack operation whose stack name has the prefix."""

    operation: str  # create | update | delete | rollback
    kind: str  # fail | delay
    stack_name_prefix: str
    logical_id: str = ""
    reason: str = ""
    seconds: float = 0.0


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
    stack_rules: list[_StackRule] = field(default_factory=list)
    always_background: bool = False
    # stack-name prefixes whose "CloudFormation Stack Status Change" events are dropped
    silenced_stacks: list[str] = field(default_factory=list)
    # stack id -> thread currently creating/updating/deleting that stack (inline or in the background)
    busy_stacks: dict[str, threading.Thread] = field(default_factory=dict)
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
        _patch_dynamodb()
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


def _add_stack_rule(rule: _StackRule) -> None:
    with _state.lock:
        _state.stack_rules.append(rule)


def fail_next_stack_creation(stack_name_prefix: str, logical_id: str, reason: str) -> None:
    """The next creation (CreateStack or a CREATE change set) of a stack whose name starts with the
    prefix fails on `logical_id` with `reason`: CREATE_FAILED, then ROLLBACK_IN_PROGRESS ->
    ROLLBACK_COMPLETE."""
    _add_stack_rule(_StackRule("create", "fail", stack_name_prefix, logical_id, reason))


def delay_next_stack_creation(stack_name_prefix: str, seconds: float) -> None:
    """The next creation of a matching stack stays CREATE_IN_PROGRESS `seconds*scale` before its
    resources are created."""
    _add_stack_rule(_StackRule("create", "delay", stack_name_prefix, seconds=seconds))


def fail_next_stack_update(stack_name_prefix: str, logical_id: str, reason: str) -> None:
    """The next update (UpdateStack or an UPDATE change set) of a matching stack fails on `logical_id`
    (UPDATE_FAILED, or CREATE_FAILED if the update adds it) and rolls back to UPDATE_ROLLBACK_COMPLETE."""
    _add_stack_rule(_StackRule("update", "fail", stack_name_prefix, logical_id, reason))


def delay_next_stack_update(stack_name_prefix: str, seconds: float) -> None:
    """The next update of a matching stack stays UPDATE_IN_PROGRESS `seconds*scale` before it starts."""
    _add_stack_rule(_StackRule("update", "delay", stack_name_prefix, seconds=seconds))


def fail_next_stack_deletion(stack_name_prefix: str, logical_id: str, reason: str) -> None:
    """The next DeleteStack of a matching stack fails on `logical_id`: DELETE_FAILED."""
    _add_stack_rule(_StackRule("delete", "fail", stack_name_prefix, logical_id, reason))


def delay_next_stack_deletion(stack_name_prefix: str, seconds: float) -> None:
    """The next DeleteStack of a matching stack stays DELETE_IN_PROGRESS `seconds*scale` first."""
    _add_stack_rule(_StackRule("delete", "delay", stack_name_prefix, seconds=seconds))


def fail_next_stack_rollback(stack_name_prefix: str, logical_id: str, reason: str) -> None:
    """The next rollback of a matching stack fails on `logical_id`: a failed creation ends in
    ROLLBACK_FAILED (DELETE_FAILED on the resource), a failed update in UPDATE_ROLLBACK_FAILED
    (UPDATE_FAILED on the resource). Combine with fail_next_stack_creation/update."""
    _add_stack_rule(_StackRule("rollback", "fail", stack_name_prefix, logical_id, reason))


def set_stack_operations_in_background(enabled: bool) -> None:
    """True: CreateStack, UpdateStack and DeleteStack also return at once and run in the background,
    as in AWS (ExecuteChangeSet always does). False (the default): they complete before returning
    unless custom resources, a completion hook or a fault/delay rule is involved."""
    _state.always_background = bool(enabled)


def suppress_stack_status_events(stack_name_prefix: str) -> None:
    """Drop the "CloudFormation Stack Status Change" events of stacks whose name starts with the
    prefix (to exercise a consumer's polling fallback). clear_stack_hooks() lifts it."""
    with _state.lock:
        _state.silenced_stacks.append(stack_name_prefix)


def clear_stack_hooks() -> None:
    """Forget the completion hook, every pending fail/delay rule and every event suppression."""
    with _state.lock:
        _state.completion_hook = None
        _state.stack_rules.clear()
        _state.silenced_stacks.clear()


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


_DYNAMODB_LOCK = threading.RLock()


def _dynamodb_call_action(self: Any, *args: Any, **kwargs: Any) -> Any:
    from moto.dynamodb.responses import DynamoHandler

    # moto's DynamoDB backend is not thread-safe (TransactWriteItems deep-copies whole tables as its
    # rollback copy while another function's thread writes them: "dictionary changed size during
    # iteration"). The local cloud runs functions concurrently, so DynamoDB serves one call at a time.
    with _DYNAMODB_LOCK:
        return _call_original(DynamoHandler, "call_action", self, *args, **kwargs)


def _patch_dynamodb() -> None:
    from moto.dynamodb.responses import DynamoHandler

    _replace(DynamoHandler, "call_action", _dynamodb_call_action, "dynamodb one call at a time")


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


def _deliver_to_bus(bus_arn: str, event: Mapping[str, Any]) -> None:
    """A bus target (another account or region) receives the event as it was: same id, account,
    region, time and resources (moto re-puts it as a new event of the target account, without
    resources). The target bus's resource policy and the target's RoleArn are not evaluated."""
    parts = bus_arn.split(":")
    try:
        region, account, bus_name = parts[3], parts[4], parts[5].split("/", 1)[1]
    except IndexError:
        LOG.warning("EventBridge: malformed event bus target %s", bus_arn)
        return
    put_service_event(event, account=account, region=region, bus_name=bus_name)


def put_service_event(
    event: Mapping[str, Any],
    *,
    account: str | None = None,
    region: str | None = None,
    bus_name: str = "default",
) -> None:
    """Deliver `event` (a full envelope, `time` in epoch seconds) to the rules of one bus, as an AWS
    service (or a bus target) does: no PutEvents validation, the envelope kept as it is. A failing
    target is logged, never raised: the emitter (e.g. a stack operation) must not fail with it."""
    from moto.events.models import events_backends

    backend = events_backends[account or str(event["account"])][region or str(event["region"])]
    bus = backend.event_buses.get(bus_name)
    if bus is None:
        LOG.warning("EventBridge: no event bus %s in %s/%s", bus_name, account, region)
        return
    for rule in list(bus.rules.values()):
        try:
            rule.send_to_targets(json.loads(json.dumps(dict(event))))
        except Exception:
            LOG.exception("EventBridge: rule %s could not deliver %s", rule.name, event.get("detail-type"))


def _deliver(rule: Any, target: Mapping[str, Any], event: Mapping[str, Any], transform: bool) -> bool:
    """Deliver one target ourselves; False leaves it to moto."""
    arn_parts = target["Arn"].split(":")
    service = arn_parts[2]
    if service == "sqs" and not _customises_input(target):
        _deliver_to_queue(rule, target, event)
        return True
    if service == "events" and len(arn_parts) > 5 and arn_parts[5].startswith("event-bus/"):
        _deliver_to_bus(target["Arn"], event)
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
# 5. CloudFormation: custom resources answered through S3, stack operations (inline or in the
#    background) with AWS's status sequences, resource events, rollback, injected faults and delays,
#    and "CloudFormation Stack/Resource Status Change" events on the stack account's default bus
# --------------------------------------------------------------------------------------------------
#
# Status sequences (each status is a stack event and a "CloudFormation Stack Status Change" event):
#   CreateStack:        CREATE_IN_PROGRESS -> CREATE_COMPLETE
#   CREATE change set:  REVIEW_IN_PROGRESS (CreateChangeSet) -> CREATE_IN_PROGRESS -> CREATE_COMPLETE
#   failed creation:    CREATE_IN_PROGRESS -> ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE | ROLLBACK_FAILED
#   update:             UPDATE_IN_PROGRESS -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_COMPLETE
#   failed update:      UPDATE_IN_PROGRESS -> UPDATE_ROLLBACK_IN_PROGRESS ->
#                       UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE
#                       (or UPDATE_IN_PROGRESS -> UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_FAILED)
#   delete:             DELETE_IN_PROGRESS -> DELETE_COMPLETE | DELETE_FAILED


STACK_TYPE = "AWS::CloudFormation::Stack"


class _ResourceFailed(Exception):
    """A resource operation failed; `action` is create/update/delete, `evented` says whether its
    *_FAILED resource event was already added."""

    def __init__(
        self, logical_id: str, resource_type: str, reason: str, action: str = "create", evented: bool = False
    ) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.resource_type = resource_type
        self.reason = reason
        self.action = action
        self.evented = evented


def _is_custom_type(resource_type: str) -> bool:
    return resource_type.startswith("Custom::") or resource_type == CUSTOM_RESOURCE_TYPE


def _has_custom_resources(template: Mapping[str, Any] | None) -> bool:
    resources = (template or {}).get("Resources") or {}
    return any(_is_custom_type(str(r.get("Type", ""))) for r in resources.values() if isinstance(r, Mapping))


def _take_rule(operation: str, kind: str, stack_name: str) -> _StackRule | None:
    with _state.lock:
        for rule in _state.stack_rules:
            if (
                rule.operation == operation
                and rule.kind == kind
                and stack_name.startswith(rule.stack_name_prefix)
            ):
                _state.stack_rules.remove(rule)
                return rule
    return None


def _has_rule(stack_name: str) -> bool:
    with _state.lock:
        return any(stack_name.startswith(rule.stack_name_prefix) for rule in _state.stack_rules)


def _needs_async(stack: Any, template: Mapping[str, Any] | None = None) -> bool:
    """Background operation (AWS-like) when custom resources, a completion hook or an injected
    fault/delay is involved, or set_stack_operations_in_background(True); otherwise CreateStack,
    UpdateStack and DeleteStack run inline (complete when the call returns, as moto does).
    ExecuteChangeSet always runs in the background."""
    if _state.always_background:
        return True
    if _has_custom_resources(template if template is not None else stack.template_dict):
        return True
    if _state.completion_hook is not None:
        return True
    return _has_rule(stack.name)


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
    if not _status_events_silenced(stack.name):
        put_service_event(
            _resource_status_event(stack.stack_id, logical_id, resource_type, status, physical_id, reason)
        )


RESOURCE_STATUS_DETAIL_TYPE = "CloudFormation Resource Status Change"


def _resource_status_event(
    stack_id: str,
    logical_id: str,
    resource_type: str,
    status: str,
    physical_id: str | None,
    reason: str | None,
) -> dict[str, Any]:
    """The "CloudFormation Resource Status Change" event AWS puts on the default bus."""
    event = stack_status_event(stack_id, status, reason)
    event["detail-type"] = RESOURCE_STATUS_DETAIL_TYPE
    event["detail"] = {
        "stack-id": stack_id,
        "logical-resource-id": logical_id,
        "physical-resource-id": physical_id or "",
        "status-details": {"status": status, "status-reason": reason or ""},
        "resource-type": resource_type,
        "client-request-token": "",
    }
    return event


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
        failed.action, failed.evented = "update", True
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
    if failure is not None:  # a DeleteStack retry: the responder already refused once
        raise _ResourceFailed(failure.logical_id, failure.resource_type, failure.reason, "delete")
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
        failed.action, failed.evented = "delete", True
        raise
    _add_resource_event(
        stack, self.logical_id, self.stackpilot_type, "DELETE_COMPLETE", self.physical_resource_id
    )


# --- stack status events (EventBridge) -------------------------------------------------------------

STACK_STATUS_DETAIL_TYPE = "CloudFormation Stack Status Change"


def _status_events_silenced(stack_name: str) -> bool:
    with _state.lock:
        return any(stack_name.startswith(prefix) for prefix in _state.silenced_stacks)


def stack_status_event(stack_id: str, status: str, reason: str | None = None) -> dict[str, Any]:
    """The "CloudFormation Stack Status Change" event AWS puts on the stack account's default bus."""
    parts = stack_id.split(":")
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": STACK_STATUS_DETAIL_TYPE,
        "source": "aws.cloudformation",
        "account": parts[4],
        "time": time.time(),
        "region": parts[3],
        "resources": [stack_id],
        "detail": {
            "stack-id": stack_id,
            "status-details": {"status": status, "status-reason": reason or ""},
            "client-request-token": "",
        },
    }


def _stack_add_stack_event(
    self: Any,
    resource_status: str,
    resource_status_reason: str | None = None,
    resource_properties: str | None = None,
) -> None:
    """Stack._add_stack_event, the one place every stack status change goes through (moto's own
    synchronous paths and the patches' operations): the status is set first, then the stack event
    is recorded (and sent to the NotificationARNs, as moto does), then the EventBridge event is
    delivered synchronously to the rules of the account's default bus (targets that run code,
    Lambda and Step Functions, are started asynchronously, so nothing here waits on a consumer)."""
    from moto.cloudformation.models import Stack

    self.status, self.status_reason = resource_status, resource_status_reason
    _call_original(
        Stack, "_add_stack_event", self, resource_status, resource_status_reason, resource_properties
    )
    if _status_events_silenced(self.name):
        return
    try:
        put_service_event(stack_status_event(self.stack_id, resource_status, resource_status_reason))
    except Exception:
        LOG.exception("stack status event of %s not delivered", self.name)


def _set_status(stack: Any, status: str, reason: str | None = None) -> None:
    stack._add_stack_event(status, resource_status_reason=reason)


# --- operations: inline or in the background, with injected faults --------------------------------


@dataclass
class _Plan:
    """What the rules inject into one stack operation."""

    operation: str
    failure: _StackRule | None = None
    failure_used: bool = False


def _begin_plan(stack: Any, operation: str) -> _Plan:
    delay = _take_rule(operation, "delay", stack.name)
    plan = _Plan(operation, failure=_take_rule(operation, "fail", stack.name))
    _tls.plan = plan
    if delay is not None:
        _scaled_sleep(delay.seconds)
    return plan


def _current_plan() -> _Plan | None:
    return getattr(_tls, "plan", None)


def _in_operation_for(stack_id: str) -> bool:
    return _state.busy_stacks.get(stack_id) is threading.current_thread()


def _run_operation(stack: Any, name: str, work: Callable[[], None], *, background: bool) -> None:
    """Run a stack operation inline (moto's synchronous semantics) or in a daemon thread.

    Either way the stack is marked busy for the running thread: only that thread may create the
    stack's resources (moto's lazy ResourceMap would otherwise create them from a DescribeStacks).
    """
    generation = _state.generation

    def runner() -> None:
        saved = (getattr(_tls, "stack", None), getattr(_tls, "generation", None), _current_plan())
        _tls.stack, _tls.generation, _tls.plan = stack, generation, None
        try:
            work()
        except _Aborted:
            LOG.info("%s of %s aborted by stop_executions()", name, stack.name)
        except Exception:
            LOG.exception("%s of %s crashed", name, stack.name)
        finally:
            _tls.stack, _tls.generation, _tls.plan = saved
            with _state.lock:
                if _state.busy_stacks.get(stack.stack_id) is threading.current_thread():
                    del _state.busy_stacks[stack.stack_id]

    if not background:
        with _state.lock:
            _state.busy_stacks[stack.stack_id] = threading.current_thread()
        runner()
        return
    thread = threading.Thread(target=runner, name=f"stackpilot-cfn-{name}", daemon=True)
    with _state.lock:
        _state.busy_stacks[stack.stack_id] = thread
        _state.threads.append(thread)
    thread.start()


def _failure_from(exc: Exception, stack: Any) -> _ResourceFailed:
    """Any error of a stack operation fails the stack instead of leaving it *_IN_PROGRESS."""
    if isinstance(exc, _ResourceFailed):
        return exc
    return _ResourceFailed(stack.name, STACK_TYPE, f"{type(exc).__name__}: {exc}")


def _unused_failure(stack: Any, plan: _Plan, action: str) -> None:
    """A rule naming a resource the operation never reached still fails the operation, on that
    logical id (so a test's injected fault always takes effect)."""
    if plan.failure is None or plan.failure_used:
        return
    plan.failure_used = True
    resource_json = (stack.template_dict.get("Resources") or {}).get(plan.failure.logical_id) or {}
    raise _ResourceFailed(
        plan.failure.logical_id, str(resource_json.get("Type", "")), plan.failure.reason, action
    )


def _injected(plan: _Plan | None, logical_id: str, operation: str) -> _StackRule | None:
    if plan is None or plan.failure is None or plan.failure_used or plan.operation != operation:
        return None
    if plan.failure.logical_id != logical_id:
        return None
    plan.failure_used = True
    return plan.failure


def _failure_reason(failure: _ResourceFailed, verb: str) -> str:
    if failure.resource_type == STACK_TYPE:
        return failure.reason
    return f"The following resource(s) failed to {verb}: [{failure.logical_id}]. "


def _add_failure_event(stack: Any, failure: _ResourceFailed) -> None:
    if failure.evented or failure.resource_type == STACK_TYPE:
        return
    status = {"create": "CREATE_FAILED", "update": "UPDATE_FAILED", "delete": "DELETE_FAILED"}[failure.action]
    _add_resource_event(stack, failure.logical_id, failure.resource_type, status, reason=failure.reason)
    failure.evented = True


# --- creation -----------------------------------------------------------------------------------


def _stack_create_resources(self: Any) -> None:
    """Stack.create_resources (after moto's CREATE_IN_PROGRESS event): resource events, faults,
    rollback; in the background when custom resources or hooks are involved."""
    _run_operation(self, "create", lambda: _create_stack(self), background=_needs_async(self))


def _create_stack(stack: Any) -> None:
    plan = _begin_plan(stack, "create")
    try:
        stack.resource_map.create(stack.template_dict)
        stack.description = stack.template_dict.get("Description")
        _unused_failure(stack, plan, "create")
        hook = _state.completion_hook
        outcome = hook(stack) if hook is not None else None
        if outcome is not None:
            logical_id, reason = outcome
            resource_json = (stack.template_dict.get("Resources") or {}).get(logical_id) or {}
            raise _ResourceFailed(logical_id, str(resource_json.get("Type", "")), reason)
        stack.output_map = stack._create_output_map()
        _register_exports(stack)
    except _Aborted:
        raise
    except Exception as exc:
        _fail_creation(stack, _failure_from(exc, stack))
        return
    _set_status(stack, "CREATE_COMPLETE")


def _fail_creation(stack: Any, failure: _ResourceFailed) -> None:
    """CREATE_FAILED on the resource, then ROLLBACK_IN_PROGRESS -> ROLLBACK_COMPLETE (or
    ROLLBACK_FAILED); a stack created with rollback disabled stops at CREATE_FAILED."""
    _add_failure_event(stack, failure)
    reason = _failure_reason(failure, "create")
    if getattr(stack, "disable_rollback", False):
        _set_status(stack, "CREATE_FAILED", reason)
        return
    _set_status(stack, "ROLLBACK_IN_PROGRESS", reason + "Rollback requested by user.")
    try:
        _delete_resources(stack, _stack_items(stack), _take_rule("rollback", "fail", stack.name))
    except _ResourceFailed as failed:
        _set_status(stack, "ROLLBACK_FAILED", _failure_reason(failed, "delete"))
        return
    _set_status(stack, "ROLLBACK_COMPLETE")


def _parse_and_create_resource(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    """parsing.parse_and_create_resource: only inside the stack's operation, with resource events.

    Outside its operation a stack never creates resources lazily (moto's ResourceMap creates on
    first access, e.g. from DescribeStacks outputs): that would send a second Create to a custom
    resource, or create resources of a stack that was rolled back.
    """
    if not _in_operation_for(resources_map.stack_id):
        return None
    return _create_with_events(logical_id, resource_json, resources_map, account_id, region_name)


def _create_with_events(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    stack = _tls.stack
    resource_type = str(resource_json.get("Type", ""))
    condition = resource_json.get("Condition")
    if condition and not resources_map.lazy_condition_map[condition]:
        return None
    _add_resource_event(stack, logical_id, resource_type, "CREATE_IN_PROGRESS")
    plan = _current_plan()
    injected = _injected(plan, logical_id, plan.operation if plan else "")
    if injected is not None:
        raise _ResourceFailed(logical_id, resource_type, injected.reason, "create")
    try:
        resource = _create_resource(logical_id, resource_json, resources_map, account_id, region_name)
    except (_ResourceFailed, _Aborted):
        raise
    except Exception as exc:
        raise _ResourceFailed(logical_id, resource_type, _error_text(exc)) from exc
    if resource is not None:
        physical_id = getattr(resource, "physical_resource_id", None)
        _add_resource_event(stack, logical_id, resource_type, "CREATE_COMPLETE", str(physical_id or ""))
    return resource


def _error_text(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    return f"{type(exc).__name__}: {message}"


def _register_exports(stack: Any) -> None:
    """Exports of a complete stack (moto registers them, unresolved, before the resources exist)."""
    from moto.cloudformation.models import cloudformation_backends

    backend = cloudformation_backends[stack.account_id][stack.region_name]
    for name in [n for n, e in backend.exports.items() if e.exporting_stack_id == stack.stack_id]:
        del backend.exports[name]
    for export in stack.exports:
        backend.exports[export.name] = export


# --- deletion -----------------------------------------------------------------------------------

_DeleteItem = tuple[str, Any, Mapping[str, Any]]  # logical id, resource object, resource JSON


def _is_resource(value: Any) -> bool:
    return value is not None and not isinstance(value, str | int | float | list | dict | bool)


def _stack_items(stack: Any) -> list[_DeleteItem]:
    """Every existing resource of the stack, in deletion order (reverse dependency order)."""
    resource_map = stack.resource_map
    json_map = resource_map._resource_json_map
    return [
        (logical_id, resource_map._parsed_resources[logical_id], json_map[logical_id])
        for logical_id in reversed(_dependency_order(json_map))
        if _is_resource(resource_map._parsed_resources.get(logical_id))
    ]


def _delete_resources(stack: Any, items: list[_DeleteItem], failure: _StackRule | None) -> None:
    """Delete `items` in order, with DELETE_IN_PROGRESS/DELETE_COMPLETE (DELETE_SKIPPED for Retain).

    An injected failure or a custom resource's refusal stops with _ResourceFailed. moto's own
    delete errors (often dependency order, sometimes moto bugs AWS would not have) are retried in
    later passes, like moto does; what still fails is logged and counted as deleted.
    """
    if failure is not None and failure.logical_id not in [item[0] for item in items]:
        raise _ResourceFailed(failure.logical_id, "", failure.reason, "delete")
    pending, errors, first = list(items), {}, True
    while pending:
        remaining: list[_DeleteItem] = []
        for item in pending:
            error = _delete_item(stack, item, failure, announce=first)
            if error is not None:
                errors[item[0]] = error
                remaining.append(item)
        if len(remaining) == len(pending):
            break
        pending, first = remaining, False
    for logical_id, resource, resource_json in pending:
        LOG.warning(
            "moto could not delete %s of %s (%s); counted as deleted",
            logical_id,
            stack.name,
            errors[logical_id],
        )
        _forget(stack.resource_map, logical_id, resource)
        _add_resource_event(
            stack, logical_id, str(resource_json.get("Type", "")), "DELETE_COMPLETE", _physical_id(resource)
        )


def _delete_item(
    stack: Any, item: _DeleteItem, failure: _StackRule | None, *, announce: bool
) -> Exception | None:
    """Delete one resource; the error when moto could not (to retry), None when done."""
    from moto.cloudformation.custom_model import CustomModel

    logical_id, resource, resource_json = item
    resource_type, physical_id = str(resource_json.get("Type", "")), _physical_id(resource)
    custom = isinstance(resource, CustomModel)  # records its own events
    if resource_json.get("DeletionPolicy") == "Retain":
        _add_resource_event(stack, logical_id, resource_type, "DELETE_SKIPPED", physical_id)
        _forget(stack.resource_map, logical_id, resource)
        return None
    if announce and not custom:
        _add_resource_event(stack, logical_id, resource_type, "DELETE_IN_PROGRESS", physical_id)
    if failure is not None and failure.logical_id == logical_id:
        _add_resource_event(stack, logical_id, resource_type, "DELETE_FAILED", physical_id, failure.reason)
        raise _ResourceFailed(logical_id, resource_type, failure.reason, "delete", evented=True)
    try:
        _delete_resource(stack.resource_map, resource, resource_json)
    except (_ResourceFailed, _Aborted):
        raise
    except Exception as exc:
        if custom or _refused_by_aws(exc):
            raise _ResourceFailed(logical_id, resource_type, _error_text(exc), "delete") from exc
        return exc
    _forget(stack.resource_map, logical_id, resource)
    if not custom:
        _add_resource_event(stack, logical_id, resource_type, "DELETE_COMPLETE", physical_id)
    return None


# moto delete errors that AWS gives too (not ordering or moto quirks): they fail the delete.
_AWS_DELETE_REFUSALS = ("deletion protection",)


def _refused_by_aws(exc: Exception) -> bool:
    message = str(getattr(exc, "message", None) or exc).lower()
    return any(marker in message for marker in _AWS_DELETE_REFUSALS)


def _forget(resource_map: Any, logical_id: str, resource: Any) -> None:
    if resource_map._parsed_resources.get(logical_id) is resource:
        del resource_map._parsed_resources[logical_id]


def _delete_resource(resource_map: Any, resource: Any, resource_json: Mapping[str, Any]) -> None:
    deleter = _DELETERS.get(str(resource_json.get("Type", "")))
    if deleter is not None:
        deleter(resource, resource_map._account_id, resource_map._region_name)
        return
    resource_map._delete_resource(resource, dict(resource_json))


def _export_names(stack: Any) -> list[str]:
    try:
        return [export.name for export in stack.exports]
    except Exception:
        return []


def _find_live_stack(backend: Any, name_or_stack_id: str) -> Any:
    if name_or_stack_id in backend.stacks:
        return backend.stacks[name_or_stack_id]
    return next((s for s in backend.stacks.values() if s.name == name_or_stack_id), None)


# RetainResources / DeletionMode of the DeleteStack request being served (moto drops both).
_delete_request: contextvars.ContextVar[tuple[frozenset[str], bool]] = contextvars.ContextVar(
    "stackpilot_delete_request", default=(frozenset(), False)
)


def _response_delete_stack(self: Any) -> Any:
    """CloudFormationResponse.delete_stack, passing RetainResources and DeletionMode on."""
    from moto.core.responses import EmptyResult

    retain = frozenset(str(r) for r in self._get_param("RetainResources", []) or [])
    force = self._get_param("DeletionMode") == "FORCE_DELETE_STACK"
    token = _delete_request.set((retain, force))
    try:
        self.cloudformation_backend.delete_stack(self._get_param("StackName"))
    finally:
        _delete_request.reset(token)
    return EmptyResult()


def _backend_delete_stack(self: Any, name_or_stack_id: str) -> None:
    """CloudFormationBackend.delete_stack: resource events, injected faults, DELETE_FAILED; a
    DELETE_FAILED stack may be deleted again retaining resources (RetainResources, or
    DeletionMode FORCE_DELETE_STACK: those that failed to delete)."""
    from moto.cloudformation.exceptions import ValidationError

    stack = _find_live_stack(self, name_or_stack_id)
    if stack is None or stack.status == "DELETE_IN_PROGRESS" or stack.stack_id in _state.busy_stacks:
        return
    retain, force = _delete_request.get()
    if (retain or force) and stack.status != "DELETE_FAILED":
        raise ValidationError(
            message=f"Invalid operation on stack [{stack.stack_id}]. RetainResources and FORCE_DELETE_STACK "
            "apply only to a stack in DELETE_FAILED state."
        )
    if force:
        retain = retain | _failed_deletes(stack)
    _set_status(stack, "DELETE_IN_PROGRESS", "User Initiated")
    _run_operation(
        stack, "delete", lambda: _delete_stack(self, stack, retain), background=_needs_async(stack)
    )


def _failed_deletes(stack: Any) -> frozenset[str]:
    last: dict[str, str] = {}
    for event in stack.events:
        last[event.logical_resource_id] = event.resource_status
    return frozenset(logical_id for logical_id, status in last.items() if status == "DELETE_FAILED")


def _delete_stack(backend: Any, stack: Any, retain: frozenset[str] = frozenset()) -> None:
    plan = _begin_plan(stack, "delete")
    export_names = _export_names(stack)  # resolvable only while the resources exist
    items = [
        (lid, res, {**json_, "DeletionPolicy": "Retain"} if lid in retain else json_)
        for lid, res, json_ in _stack_items(stack)
    ]
    try:
        _delete_resources(stack, items, plan.failure)
    except _ResourceFailed as failed:
        _add_failure_event(stack, failed)
        _set_status(stack, "DELETE_FAILED", _failure_reason(failed, "delete"))
        return
    backend.deleted_stacks[stack.stack_id] = stack
    backend.stacks.pop(stack.stack_id, None)
    for name in export_names:
        backend.exports.pop(name, None)
    for change_set_id in [k for k, c in backend.change_sets.items() if c.stack_id == stack.stack_id]:
        del backend.change_sets[change_set_id]
    _set_status(stack, "DELETE_COMPLETE")


# --- updates --------------------------------------------------------------------------------------

_UPDATABLE = frozenset(
    {
        "CREATE_COMPLETE",
        "CREATE_FAILED",
        "UPDATE_COMPLETE",
        "UPDATE_FAILED",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
    }
)


def _check_updatable(stack: Any) -> None:
    from moto.cloudformation.exceptions import ValidationError

    if stack.status not in _UPDATABLE or stack.stack_id in _state.busy_stacks:
        raise ValidationError(
            stack.stack_id,
            message=f"Stack:{stack.stack_id} is in {stack.status} state and can not be updated.",
        )


@dataclass
class _Snapshot:
    """A stack's template, parameters and resource map before an update (to roll back to)."""

    template: Any
    template_dict: dict[str, Any]
    parameters: Any
    map_template: dict[str, Any]
    json_map: dict[str, Any]
    input_parameters: Any
    resolved_parameters: dict[str, Any]
    parsed: dict[str, Any]
    conditions: Any
    output_map: Any

    @classmethod
    def take(cls, stack: Any) -> _Snapshot:
        resource_map = stack.resource_map
        return cls(
            stack.template,
            stack.template_dict,
            stack.parameters,
            resource_map._template,
            resource_map._resource_json_map,
            resource_map.input_parameters,
            dict(resource_map.resolved_parameters),
            dict(resource_map._parsed_resources),
            resource_map.lazy_condition_map,
            stack.output_map,
        )

    def restore(self, stack: Any) -> None:
        resource_map = stack.resource_map
        stack.template, stack.template_dict, stack.parameters = (
            self.template,
            self.template_dict,
            self.parameters,
        )
        resource_map._template, resource_map._resource_json_map = self.map_template, self.json_map
        resource_map.input_parameters = self.input_parameters
        resource_map.resolved_parameters = dict(self.resolved_parameters)
        resource_map._parsed_resources.clear()
        resource_map._parsed_resources.update(self.parsed)
        resource_map.lazy_condition_map = self.conditions
        stack.output_map = self.output_map


@dataclass
class _UpdateLog:
    added: list[str] = field(default_factory=list)
    # logical id, resource before, its JSON before, resource after
    updated: list[tuple[str, Any, Mapping[str, Any], Any]] = field(default_factory=list)
    # resources the update made obsolete (removed, or replaced): deleted during cleanup
    obsolete: list[_DeleteItem] = field(default_factory=list)


def _stack_update(
    self: Any,
    template: str,
    role_arn: str | None = None,
    parameters: dict[str, Any] | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Stack.update (UpdateStack): resource events, cleanup phase, faults, rollback."""
    from moto.cloudformation.models import Stack

    _check_updatable(self)
    new_template = Stack.parse_template(template) if isinstance(template, str) else template
    background = _needs_async(self) or _needs_async(self, new_template)
    self.role_arn = role_arn or self.role_arn
    if tags is not None:
        self.tags = tags
    _set_status(self, "UPDATE_IN_PROGRESS", "User Initiated")
    _run_operation(
        self, "update", lambda: _update_stack(self, template, new_template, parameters), background=background
    )


def _update_stack(stack: Any, template: Any, template_dict: dict[str, Any], parameters: Any) -> bool:
    """UPDATE_IN_PROGRESS -> [resources] -> UPDATE_COMPLETE_CLEANUP_IN_PROGRESS -> [old resources
    deleted] -> UPDATE_COMPLETE; on failure the update is rolled back. True when it succeeded."""
    plan = _begin_plan(stack, "update")
    snapshot = _Snapshot.take(stack)
    log = _UpdateLog()
    try:
        stack.template, stack.template_dict = template, template_dict
        if parameters:
            stack.parameters = parameters
        _apply_update(stack, template_dict, parameters, log)
        _unused_failure(stack, plan, "update")
        stack.output_map = stack._create_output_map()
        _register_exports(stack)
    except _Aborted:
        raise
    except Exception as exc:
        _roll_back_update(stack, _failure_from(exc, stack), snapshot, log)
        return False
    _set_status(stack, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
    _clean_up(stack, log.obsolete, snapshot.json_map)
    _set_status(stack, "UPDATE_COMPLETE")
    return True


def _apply_update(stack: Any, template: dict[str, Any], parameters: Any, log: _UpdateLog) -> None:
    """Add and update resources in dependency order; a resource is updated when its JSON changed
    or when a resource it references changed and its resolved properties differ (AWS propagates a
    replacement, e.g. a new task definition revision, to the resources that reference it)."""
    resource_map = stack.resource_map
    old_json = dict(resource_map._resource_json_map)
    diff = resource_map.build_resource_diff(template, parameters)
    resource_map._template = template
    if parameters:
        resource_map.input_parameters = parameters
    resource_map.load_mapping()
    resource_map.load_parameters()
    resource_map.load_conditions()
    resource_map._resource_json_map = template["Resources"]
    changed: set[str] = set()
    for logical_id in _dependency_order(resource_map._resource_json_map):
        if _update_one(stack, logical_id, old_json, logical_id in diff["Modify"], changed, log):
            changed.add(logical_id)
    for logical_id in diff["Remove"]:
        existing = resource_map._parsed_resources.pop(logical_id, None)
        if _is_resource(existing):
            log.obsolete.append((logical_id, existing, old_json[logical_id]))


def _update_one(
    stack: Any,
    logical_id: str,
    old_json: Mapping[str, Any],
    modified: bool,
    changed: set[str],
    log: _UpdateLog,
) -> bool:
    """Add, update or drop one resource during an update; True when it changed."""
    resource_map = stack.resource_map
    resource_json = resource_map._resource_json_map[logical_id]
    before_json = old_json.get(logical_id, resource_json)
    existing = resource_map._parsed_resources.get(logical_id)
    condition = resource_json.get("Condition")
    active = not condition or bool(resource_map.lazy_condition_map[condition])
    if not _is_resource(existing):
        if active and resource_map[logical_id] is not None:
            log.added.append(logical_id)
            return True
        return False
    if not active:  # its condition turned false: AWS deletes it
        log.obsolete.append((logical_id, existing, before_json))
        del resource_map._parsed_resources[logical_id]
        return True
    if not modified and not (_references(resource_json) & changed):
        return False
    updated = _update_with_events(stack, logical_id, resource_json, existing)
    if updated is None:
        return False
    resource_map._parsed_resources[logical_id] = updated
    log.updated.append((logical_id, existing, before_json, updated))
    replaced = updated is not existing and _physical_id(updated) != _physical_id(existing)
    if replaced and not _is_custom_type(str(resource_json.get("Type", ""))):  # custom: deleted already
        log.obsolete.append((logical_id, existing, before_json))
    return True


def _physical_id(resource: Any) -> str:
    return str(getattr(resource, "physical_resource_id", "") or "")


def _update_with_events(stack: Any, logical_id: str, resource_json: dict[str, Any], existing: Any) -> Any:
    """Update one resource (UPDATE_IN_PROGRESS -> UPDATE_COMPLETE); None when nothing changed."""
    from moto.cloudformation import parsing

    resource_map = stack.resource_map
    resource_type = str(resource_json.get("Type", ""))
    parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resource_map)
    if not parsed:
        return None
    resource_class, cleaned, generated_name = parsed
    custom = _is_custom_type(resource_type)
    if not custom:
        cleaned = _resolve_dynamic_references(cleaned, resource_map._account_id, resource_map._region_name)
    signature = _signature(cleaned)
    if signature == getattr(existing, "stackpilot_signature", None):
        return None
    name = _update_name(resource_type, cleaned, existing, generated_name)
    account_id, region_name = resource_map._account_id, resource_map._region_name
    if custom:  # CustomModel's update sends the request and records its own events
        updated = resource_class.update_from_cloudformation_json(
            original_resource=existing,
            new_resource_name=name,
            cloudformation_json=cleaned,
            account_id=account_id,
            region_name=region_name,
        )
    else:
        physical_id = _physical_id(existing)
        _add_resource_event(stack, logical_id, resource_type, "UPDATE_IN_PROGRESS", physical_id)
        injected = _injected(_current_plan(), logical_id, "update")
        if injected is not None:
            _add_resource_event(
                stack, logical_id, resource_type, "UPDATE_FAILED", physical_id, injected.reason
            )
            raise _ResourceFailed(logical_id, resource_type, injected.reason, "update", evented=True)
        try:
            updated = _update_resource(resource_class, existing, name, cleaned, account_id, region_name)
        except (_ResourceFailed, _Aborted):
            raise
        except Exception as exc:
            reason = _error_text(exc)
            _add_resource_event(stack, logical_id, resource_type, "UPDATE_FAILED", physical_id, reason)
            raise _ResourceFailed(logical_id, resource_type, reason, "update", evented=True) from exc
        _add_resource_event(stack, logical_id, resource_type, "UPDATE_COMPLETE", _physical_id(updated))
    _mark(updated, resource_type, logical_id, signature)
    return updated


def _update_name(resource_type: str, cleaned: Mapping[str, Any], existing: Any, generated: str) -> str:
    """An explicit name property wins; otherwise the resource keeps the name CloudFormation gave it
    (moto would generate a new one on every update, and some of its updaters then replace)."""
    from moto.cloudformation import parsing

    name_property = parsing.resource_name_property_from_type(resource_type)
    properties = cleaned.get("Properties") or {}
    if name_property and properties.get(name_property):
        return str(properties[name_property])
    return str(getattr(existing, "name", None) or _physical_id(existing) or generated)


def _update_resource(
    resource_class: Any, existing: Any, name: str, cleaned: dict[str, Any], account_id: str, region_name: str
) -> Any:
    resource_type = str(cleaned.get("Type", ""))
    in_place = _IN_PLACE_UPDATERS.get(resource_type)
    if in_place is not None:
        in_place(existing, cleaned.get("Properties") or {}, account_id, region_name)
        return existing
    if hasattr(resource_class.update_from_cloudformation_json, "__isabstractmethod__"):
        LOG.info("moto cannot update %s; the change is recorded but not applied", resource_type)
        return existing
    updated = resource_class.update_from_cloudformation_json(
        original_resource=existing,
        new_resource_name=name,
        cloudformation_json=cleaned,
        account_id=account_id,
        region_name=region_name,
    )
    if updated is None:
        return existing
    _after_create(resource_type, updated, cleaned, account_id, region_name)
    return updated


def _clean_up(stack: Any, items: list[_DeleteItem], json_map: Mapping[str, Any]) -> None:
    """*_CLEANUP_IN_PROGRESS: delete obsolete resources; failures are DELETE_FAILED events only."""
    order = {
        logical_id: index for index, logical_id in enumerate(reversed(_dependency_order(dict(json_map))))
    }
    for item in sorted(items, key=lambda i: order.get(i[0], -1)):
        try:
            _delete_resources(stack, [item], None)
        except _ResourceFailed as failed:
            _add_failure_event(stack, failed)
            LOG.warning("cleanup of %s in %s failed: %s", item[0], stack.name, failed.reason)


def _roll_back_update(stack: Any, failure: _ResourceFailed, snapshot: _Snapshot, log: _UpdateLog) -> None:
    """UPDATE_ROLLBACK_IN_PROGRESS -> UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS ->
    UPDATE_ROLLBACK_COMPLETE, or UPDATE_ROLLBACK_FAILED.

    Resources updated in place get their previous properties back (UPDATE events, as AWS); what
    the update created (new resources, replacements) is deleted during the cleanup phase.
    """
    _add_failure_event(stack, failure)
    _set_status(stack, "UPDATE_ROLLBACK_IN_PROGRESS", _failure_reason(failure, failure.action))
    created: list[_DeleteItem] = [
        (
            logical_id,
            stack.resource_map._parsed_resources[logical_id],
            stack.resource_map._resource_json_map[logical_id],
        )
        for logical_id in log.added
        if _is_resource(stack.resource_map._parsed_resources.get(logical_id))
    ]
    created += [
        (logical_id, after, stack.resource_map._resource_json_map.get(logical_id, before_json))
        for logical_id, before, before_json, after in log.updated
        if after is not before and _physical_id(after) != _physical_id(before)
    ]
    new_json_map = dict(stack.resource_map._resource_json_map)
    snapshot.restore(stack)
    rule = _take_rule("rollback", "fail", stack.name)
    try:
        for logical_id, before, before_json, after in reversed(log.updated):
            if rule is not None and rule.logical_id == logical_id:
                break
            if after is before or _physical_id(after) == _physical_id(before):
                _revert(stack, logical_id, dict(before_json), after)
        if rule is not None:
            resource_json = snapshot.json_map.get(rule.logical_id) or new_json_map.get(rule.logical_id) or {}
            resource_type = str(resource_json.get("Type", ""))
            _add_resource_event(stack, rule.logical_id, resource_type, "UPDATE_FAILED", reason=rule.reason)
            raise _ResourceFailed(rule.logical_id, resource_type, rule.reason, "update", evented=True)
    except _ResourceFailed as failed:
        _add_failure_event(stack, failed)
        _set_status(stack, "UPDATE_ROLLBACK_FAILED", _failure_reason(failed, "update"))
        return
    _set_status(stack, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
    _clean_up(stack, created, new_json_map)
    _set_status(stack, "UPDATE_ROLLBACK_COMPLETE")


def _revert(stack: Any, logical_id: str, before_json: dict[str, Any], current: Any) -> None:
    """Apply a resource's previous properties again (the stack's previous template is restored)."""
    if getattr(current, "stackpilot_signature", None) is None:
        return
    current.stackpilot_signature = None  # force the update
    restored = _update_with_events(stack, logical_id, before_json, current)
    if restored is not None:
        stack.resource_map._parsed_resources[logical_id] = restored


# --- change sets ----------------------------------------------------------------------------------


def _backend_create_change_set(
    self: Any, stack_name: str, change_set_name: str, template: str, *args: Any, **kwargs: Any
) -> tuple[str, str]:
    """CloudFormationBackend.create_change_set: AWS's checks first (existing stack for CREATE,
    updatable status for UPDATE, template and parameters valid) rather than at execution."""
    from moto.cloudformation.exceptions import AlreadyExistsException
    from moto.cloudformation.models import CloudFormationBackend

    bound = _bind_change_set_args(stack_name, change_set_name, template, *args, **kwargs)
    existing = _find_live_stack(self, stack_name)
    if existing is not None:
        stack_name = existing.name  # a stack id works too (moto matches names only)
    if (
        bound["change_set_type"] == "CREATE"
        and existing is not None
        and existing.status != "REVIEW_IN_PROGRESS"
    ):
        raise AlreadyExistsException(f"Stack [{stack_name}] already exists")
    if bound["change_set_type"] == "UPDATE" and existing is not None:
        _check_updatable(existing)
    _validate_template(self, stack_name, template, bound["parameters"])
    return _call_original(  # type: ignore[no-any-return]
        CloudFormationBackend,
        "create_change_set",
        self,
        stack_name,
        change_set_name,
        template,
        *args,
        **kwargs,
    )


def _bind_change_set_args(
    stack_name: str, change_set_name: str, template: str, *args: Any, **kwargs: Any
) -> dict[str, Any]:
    names = ("parameters", "description", "change_set_type", "notification_arns", "tags", "role_arn")
    bound = dict(zip(names, args, strict=False))
    bound.update(kwargs)
    bound.setdefault("parameters", {})
    bound.setdefault("change_set_type", "CREATE")
    return bound


def _validate_template(backend: Any, stack_name: str, template: str, parameters: Mapping[str, Any]) -> None:
    """Parameters (types, constraints, SSM values, Rules) and references, as CreateChangeSet does."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.cloudformation.models import Stack
    from moto.cloudformation.parsing import ResourceMap
    from moto.cloudformation.utils import generate_stack_id

    try:
        template_dict = Stack.parse_template(template)
    except ValueError as exc:
        raise ValidationError(message=f"Template format error: {exc}") from None
    if not isinstance(template_dict, dict) or not template_dict.get("Resources"):
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    _check_references(template_dict)
    stack_id = generate_stack_id(stack_name, backend.region_name, backend.account_id)
    probe = ResourceMap(
        stack_id,
        stack_name,
        dict(parameters or {}),
        {},
        region_name=backend.region_name,
        account_id=backend.account_id,
        template=template_dict,
        cross_stack_resources=backend.exports,
    )
    probe.load()


def _find_change_set(backend: Any, change_set_name: str, stack_name: str | None) -> Any:
    from moto.cloudformation.exceptions import ValidationError

    if change_set_name in backend.change_sets:
        return backend.change_sets[change_set_name]
    for change_set in backend.change_sets.values():
        if change_set.change_set_name == change_set_name and stack_name in (
            None,
            "",
            change_set.stack_name,
            change_set.stack_id,
        ):
            return change_set
    raise ValidationError(message=f"ChangeSet [{change_set_name}] does not exist")


def _backend_execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
    """CloudFormationBackend.execute_change_set: the same operations as CreateStack/UpdateStack
    (resource events, faults, rollback, status events), in the background when needed."""
    from moto.cloudformation.exceptions import ValidationError

    change_set = _find_change_set(self, change_set_name, stack_name)
    if change_set.execution_status != "AVAILABLE":
        raise ValidationError(
            message=f"ChangeSet [{change_set.change_set_id}] cannot be executed in its current execution "
            f"status of [{change_set.execution_status}]"
        )
    stack = self.stacks.get(change_set.stack_id)
    if stack is None:
        raise ValidationError(change_set.stack_id)
    # AWS answers ExecuteChangeSet before anything happens: whoever waits for the stack's status
    # events (a task token stored by the next state) is never overtaken by them.
    background = True
    if change_set.role_arn:
        stack.role_arn = change_set.role_arn
    if change_set.change_set_type == "CREATE":
        if stack.status != "REVIEW_IN_PROGRESS":
            raise ValidationError(message=f"Stack [{stack.name}] already exists")
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        _set_status(stack, "CREATE_IN_PROGRESS", "User Initiated")
        work = lambda: _execute_create(self, change_set, stack)  # noqa: E731
    else:
        _check_updatable(stack)
        change_set.execution_status = "EXECUTE_IN_PROGRESS"
        _set_status(stack, "UPDATE_IN_PROGRESS", "User Initiated")
        work = lambda: _execute_update(change_set, stack)  # noqa: E731
    _run_operation(stack, "change-set", work, background=background)


def _execute_create(backend: Any, change_set: Any, stack: Any) -> None:
    try:
        stack.template = change_set.template
        stack._parse_template()
        stack.parameters = dict(change_set.parameters or {})
        if change_set.tags:
            stack.tags = change_set.tags
        stack.cross_stack_resources = backend.exports
        stack.resource_map = stack._create_resource_map()
        stack.output_map = stack._create_output_map()
    except Exception as exc:
        change_set.execution_status = "EXECUTE_FAILED"
        _fail_creation(stack, _failure_from(exc, stack))
        return
    _create_stack(stack)
    change_set.execution_status = (
        "EXECUTE_COMPLETE" if stack.status == "CREATE_COMPLETE" else "EXECUTE_FAILED"
    )


def _execute_update(change_set: Any, stack: Any) -> None:
    if change_set.tags:
        stack.tags = change_set.tags
    succeeded = _update_stack(stack, change_set.template, change_set.template_dict, change_set.parameters)
    change_set.execution_status = "EXECUTE_COMPLETE" if succeeded else "EXECUTE_FAILED"


def _validate_different_update(self: Any, incoming_params: Any, stack_body: str, old_stack: Any) -> None:
    """CloudFormationResponse._validate_different_update: a change set without changes is created
    (and FAILED with "The submitted information didn't contain changes..."), as AWS does; only
    UpdateStack answers "No updates are to be performed."."""
    from moto.cloudformation.responses import CloudFormationResponse

    if self._get_action() == "CreateChangeSet":
        return
    _call_original(
        CloudFormationResponse, "_validate_different_update", self, incoming_params, stack_body, old_stack
    )


# --- what DescribeStacks shows --------------------------------------------------------------------

_OUTPUT_STATUSES = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_IN_PROGRESS",
        "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
        "UPDATE_ROLLBACK_FAILED",
    }
)


def _stack_outputs(self: Any) -> list[dict[str, Any]] | None:
    """Outputs exist only once a stack is complete (AWS shows none before).

    moto resolves outputs lazily on every Describe; on a stack whose resources were rolled back
    or deleted that would raise, so such stacks simply show no outputs.
    """
    from moto.cloudformation.models import Stack

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
        if _is_resource(parsed.get(logical_id))
    ]


def _stack_mark_creation_complete(self: Any) -> None:
    """Stack.mark_creation_complete (moto's verify_readiness): through the status hook."""
    _set_status(self, "CREATE_COMPLETE")


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
    from moto.cloudformation.responses import CloudFormationResponse
    from moto.ec2.models.instances import Instance
    from moto.iam.models import Role as IamRole

    name = "cloudformation custom resources"
    _replace(CustomModel, "create_from_cloudformation_json", classmethod(_custom_create), name)
    # CustomModel inherits these; set (not _replace) them on the class itself.
    _require_version(name)
    CustomModel.update_from_cloudformation_json = classmethod(_custom_update)  # type: ignore[assignment,method-assign]
    CustomModel.delete = _custom_delete  # type: ignore[attr-defined]
    _replace(parsing, "resource_class_from_type", _resource_class_from_type, "cloudformation resource types")
    _replace(
        parsing, "parse_and_create_resource", _parse_and_create_resource, "cloudformation resource events"
    )
    _replace(
        parsing.ResourceMap,
        "_ResourceMap__get_resources_in_dependency_order",
        _map_dependency_order,
        "cloudformation dependency order",
    )
    _replace(
        parsing.ResourceMap, "parse_ssm_parameter", _parse_ssm_parameter, "cloudformation SSM parameters"
    )
    _replace(Stack, "_add_stack_event", _stack_add_stack_event, "cloudformation stack status events")
    _replace(Stack, "create_resources", _stack_create_resources, "cloudformation create")
    _replace(Stack, "mark_creation_complete", _stack_mark_creation_complete, "cloudformation completion")
    _replace(Stack, "update", _stack_update, "cloudformation update")
    _replace(Stack, "outputs", property(_stack_outputs), "cloudformation outputs when complete")
    _replace(Stack, "stack_resources", property(_stack_resources), "cloudformation existing resources")
    _replace(CloudFormationBackend, "delete_stack", _backend_delete_stack, "cloudformation delete")
    _replace(CloudFormationResponse, "delete_stack", _response_delete_stack, "cloudformation delete options")
    _replace(
        CloudFormationBackend, "create_change_set", _backend_create_change_set, "cloudformation change set"
    )
    _replace(
        CloudFormationBackend,
        "execute_change_set",
        _backend_execute_change_set,
        "cloudformation change set execution",
    )
    _replace(
        CloudFormationResponse,
        "_validate_different_update",
        _validate_different_update,
        "cloudformation empty change set",
    )
    _replace(parsing.ResourceMap, "load_parameters", _load_parameters, "cloudformation parameter constraints")
    _replace(Instance, "get_cfn_attribute", _instance_get_cfn_attribute, "cloudformation instance attributes")
    _replace(
        Instance, "create_from_cloudformation_json", classmethod(_instance_create), "cloudformation instance"
    )
    _replace(Instance, "add_block_device", _instance_add_block_device, "ec2 root volume size")
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


# --------------------------------------------------------------------------------------------------
# 6. CloudFormation resources: order, dynamic references, and the types moto lacks or gets wrong
# --------------------------------------------------------------------------------------------------
#
# What moto 5.2.5's CloudFormation does with an application stack's types, and what is patched:
#  - created by moto and kept: EC2 VPC, Subnet (+MapPublicIpOnLaunch), InternetGateway,
#    VPCGatewayAttachment, RouteTable, Route, SecurityGroup (+inline egress), SecurityGroupIngress,
#    LaunchTemplate, Instance (+GetAtt PrimaryNetworkInterfaceId/VpcId/SubnetId), AutoScalingGroup,
#    IAM Role (+PermissionsBoundary)/InstanceProfile/Policy, ELBv2 LoadBalancer/TargetGroup/
#    Listener, S3 Bucket (+VersioningConfiguration), Logs LogGroup (+KmsKeyId, retention updates),
#    KMS Key/Alias; deletes moto lacks are added (_DELETERS);
#  - created by the patches on moto's backends (moto drops most properties, or lacks the type):
#    ECS Cluster/CapacityProvider/ClusterCapacityProviderAssociations/TaskDefinition/Service,
#    RDS DBSubnetGroup/DBInstance, SecretsManager Secret (GenerateSecretString)/
#    SecretTargetAttachment, S3 BucketPolicy, EC2 SubnetRouteTableAssociation;
#  - recorded only (plausible physical id and attributes, CREATE_COMPLETE, no backend object):
#    every other type moto does not know, e.g. ApiGatewayV2 Api/VpcLink/Integration/Route/Stage,
#    ServiceDiscovery PrivateDnsNamespace/Service, ApplicationAutoScaling ScalableTarget/
#    ScalingPolicy, WaitCondition(Handle).

_SUB_VARIABLE = re.compile(r"\$\{([^!}][^}]*)\}")


def _sub_names(text: str, local: Iterable[str]) -> set[str]:
    skip = set(local)
    return {m.group(1).strip().split(".", 1)[0] for m in _SUB_VARIABLE.finditer(text)} - skip


def _references(value: Any) -> set[str]:
    """Names a template fragment refers to: Ref, Fn::GetAtt, Fn::Sub variables, DependsOn."""
    if isinstance(value, list):
        return set().union(*(_references(item) for item in value))
    if not isinstance(value, Mapping):
        return set()
    found: set[str] = set()
    for key, item in value.items():
        if key == "Ref" and isinstance(item, str):
            found.add(item)
        elif key == "Fn::GetAtt":
            found |= _get_att_reference(item)
        elif key == "Fn::Sub":
            found |= _sub_references(item)
        elif key == "DependsOn":
            found |= {str(d) for d in _as_list(item)}
        else:
            found |= _references(item)
    return found


def _get_att_reference(argument: Any) -> set[str]:
    if isinstance(argument, list) and argument and isinstance(argument[0], str):
        return {argument[0]}
    if isinstance(argument, str):
        return {argument.split(".", 1)[0]}
    return set()


def _sub_references(argument: Any) -> set[str]:
    if isinstance(argument, str):
        return _sub_names(argument, ())
    if not isinstance(argument, list) or not argument:
        return set()
    local = argument[1] if len(argument) > 1 and isinstance(argument[1], Mapping) else {}
    names = _sub_names(argument[0], local) if isinstance(argument[0], str) else set()
    return names | _references(local)


def _dependency_order(json_map: Mapping[str, Any]) -> list[str]:
    """Resources in creation order: DependsOn *and* references (moto's order honours DependsOn only
    and relies on its lazy map, so a resource's events came before its dependencies')."""
    ids = list(json_map)
    deps = {lid: _references(json_map[lid]) & set(ids) - {lid} for lid in ids}
    order: list[str] = []
    done: set[str] = set()

    def visit(logical_id: str, path: frozenset[str]) -> None:
        if logical_id in done or logical_id in path:  # a cycle is AWS's error; keep going here
            return
        for dep in ids:
            if dep in deps[logical_id]:
                visit(dep, path | {logical_id})
        done.add(logical_id)
        order.append(logical_id)

    for logical_id in ids:
        visit(logical_id, frozenset())
    return order


def _map_dependency_order(self: Any) -> list[str]:
    """ResourceMap.__get_resources_in_dependency_order."""
    return _dependency_order(self._resource_json_map)


def _check_references(template: Mapping[str, Any]) -> None:
    from moto.cloudformation.exceptions import ValidationError

    known = set(template.get("Parameters") or {}) | set(template.get("Resources") or {})
    for section in ("Resources", "Outputs"):
        body = template.get(section) or {}
        missing = sorted(
            {
                name
                for entry in body.values()
                for name in _references(entry)
                if name not in known and not name.startswith("AWS::")
            }
        )
        if missing:
            raise ValidationError(
                message=f"Template format error: Unresolved resource dependencies [{', '.join(missing)}] "
                f"in the {section} block of the template"
            )


# --- dynamic references ---------------------------------------------------------------------------

_DYNAMIC_REFERENCE = re.compile(r"\{\{resolve:(ssm|ssm-secure|secretsmanager):((?:(?!\}\}).)+)\}\}")


def _resolve_dynamic_references(value: Any, account_id: str, region_name: str) -> Any:
    """`{{resolve:secretsmanager:...}}`, `{{resolve:ssm:...}}`, `{{resolve:ssm-secure:...}}` in
    resource properties, resolved from the stack account's backends (a missing secret, key or
    parameter fails the resource, as in AWS)."""
    if isinstance(value, str):
        if "{{resolve:" not in value:
            return value
        return _DYNAMIC_REFERENCE.sub(
            lambda m: _resolve_reference(m.group(1), m.group(2), account_id, region_name), value
        )
    if isinstance(value, dict):
        return {
            key: _resolve_dynamic_references(item, account_id, region_name) for key, item in value.items()
        }
    if isinstance(value, list):
        return [_resolve_dynamic_references(item, account_id, region_name) for item in value]
    return value


def _resolve_reference(service: str, key: str, account_id: str, region_name: str) -> str:
    if service == "secretsmanager":
        from moto.secretsmanager.models import secretsmanager_backends

        parts = key.split(":")
        secret_id, rest = (
            (":".join(parts[:7]), parts[7:]) if key.startswith("arn:") else (parts[0], parts[1:])
        )
        _kind, json_key, stage, version_id = ([*rest, "", "", "", ""])[:4]
        try:
            secret = secretsmanager_backends[account_id][region_name].get_secret_value(
                secret_id,
                version_id or None,
                stage or None,  # type: ignore[arg-type]
            )
        except Exception as exc:
            raise ValueError(f"Secrets Manager can't find the specified secret. ({secret_id})") from exc
        text = str(secret.get("SecretString", ""))
        if not json_key:
            return text
        try:
            return str(json.loads(text)[json_key])
        except (ValueError, KeyError, TypeError):
            raise ValueError(f"Could not find SecretKey {json_key} in secret {secret_id}") from None
    from moto.ssm.models import ssm_backends

    name, _, version = key.partition(":")
    parameter = ssm_backends[account_id][region_name].get_parameter(f"{name}:{version}" if version else name)
    if parameter is None:
        raise ValueError(f"Parameter {name} not found in SSM Parameter Store")
    return str(parameter.value)


def _parse_ssm_parameter(self: Any, value: str, value_type: str) -> Any:
    """ResourceMap.parse_ssm_parameter: AWS's ValidationError for a missing parameter (moto raises
    AttributeError). moto ships AWS's public /aws/service/... parameters in every region."""
    from moto.cloudformation.exceptions import ValidationError
    from moto.ssm.models import ssm_backends

    parameter = ssm_backends[self._account_id][self._region_name].get_parameter(value)
    if parameter is None:
        raise ValidationError(
            message=f"Unable to fetch parameters [{value}] from parameter store for this account."
        )
    if value_type.find("List") > 0:
        return parameter.value.split(",")
    return parameter.value


# --- creating one resource ------------------------------------------------------------------------


def _signature(cleaned: Mapping[str, Any]) -> str:
    """Resolved properties, comparable across operations (moto objects by their physical id)."""

    def default(value: Any) -> str:
        return str(getattr(value, "physical_resource_id", None) or f"<{type(value).__name__}>")

    return json.dumps(cleaned.get("Properties") or {}, sort_keys=True, default=default)


_GENERATED_PHYSICAL_IDS = {"AWS::EC2::SecurityGroupIngress": "sgr-", "AWS::EC2::SecurityGroupEgress": "sgr-"}


def _mark(resource: Any, resource_type: str, logical_id: str, signature: str) -> None:
    try:
        resource.cf_resource_type = resource_type
        resource.logical_resource_id = logical_id
        resource.stackpilot_signature = signature
        if getattr(resource, "physical_resource_id", None) is None:  # e.g. moto's SecurityGroupIngress
            prefix = _GENERATED_PHYSICAL_IDS.get(resource_type, f"{logical_id}-")
            resource.physical_resource_id = prefix + _short_id(17)
    except AttributeError:
        LOG.debug("cannot annotate %s", logical_id)


def _create_resource(
    logical_id: str, resource_json: dict[str, Any], resources_map: Any, account_id: str, region_name: str
) -> Any:
    """parsing.parse_and_create_resource, plus dynamic references and the post-create fixes."""
    from moto.cloudformation import parsing

    resource_type = str(resource_json["Type"])
    parsed = parsing.parse_resource_and_generate_name(logical_id, resource_json, resources_map)
    if not parsed:
        return None
    resource_class, cleaned, name = parsed
    if not _is_custom_type(resource_type):
        cleaned = _resolve_dynamic_references(cleaned, account_id, region_name)
        name = _resolve_dynamic_references(name, account_id, region_name)  # moto took it from a property
    prepare = _BEFORE_CREATE.get(resource_type)
    if prepare is not None:
        prepare(cleaned.setdefault("Properties", {}), account_id, region_name)
    signature = _signature(cleaned)
    resource = resource_class.create_from_cloudformation_json(
        name,
        cleaned,
        account_id,
        region_name,
        LogicalId=logical_id,
        StackId=resources_map.stack_id,
        ResourceType=resource_type,
    )
    _mark(resource, resource_type, logical_id, signature)
    _after_create(resource_type, resource, cleaned, account_id, region_name)
    return resource


def _after_create(
    resource_type: str, resource: Any, cleaned: Mapping[str, Any], account_id: str, region_name: str
) -> None:
    fix = _AFTER_CREATE.get(resource_type)
    if fix is not None:
        fix(resource, cleaned.get("Properties") or {}, account_id, region_name)


def _resource_class_from_type(resource_type: str) -> Any:
    """parsing.resource_class_from_type: the patches' classes first, a recorded resource for any
    type moto does not know (moto returns None: skipped, and a Ref to it breaks dependents)."""
    from moto.cloudformation import parsing
    from moto.cloudformation.custom_model import CustomModel

    if resource_type == CUSTOM_RESOURCE_TYPE or resource_type.startswith("Custom::"):
        return CustomModel
    if resource_type in _ADAPTERS:
        return _ADAPTERS[resource_type]
    model_map = parsing.get_model_map()
    if resource_type in model_map:
        return model_map[resource_type]
    return _RecordedResource


# --- the patches' own resource classes ------------------------------------------------------------


def _flag(value: Any, default: bool = False) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _camel(value: Any) -> Any:
    from moto.core.utils import pascal_to_camelcase, remap_nested_keys

    return None if value is None else remap_nested_keys(value, pascal_to_camelcase)


def _short_id(length: int) -> str:
    return uuid.uuid4().hex[:length]


def _partition(region_name: str) -> str:
    from moto.utilities.utils import get_partition

    return str(get_partition(region_name))


def _ignore_missing(action: Callable[[], Any], what: str) -> None:
    try:
        action()
    except Exception as exc:  # already gone (deleted with its parent), or never fully created
        LOG.debug("delete of %s: %s", what, exc)


class _AppResource:
    """A resource created by the patches; duck-types moto's CloudFormationModel.

    Subclasses implement `create` (a classmethod), `update` (return self for an in-place update,
    a new instance for a replacement: the old one is deleted in the cleanup phase) and `remove`.
    """

    def __init__(
        self,
        physical_id: str,
        account_id: str,
        region_name: str,
        properties: Mapping[str, Any],
        attributes: Mapping[str, Any] | None = None,
        name: str | None = None,
        target: Any = None,
    ) -> None:
        self.physical_resource_id = physical_id
        self.account_id = account_id
        self.region_name = region_name
        self.properties = dict(properties)
        self.attributes = dict(attributes or {})
        self.name = name
        self.target = target  # the backend object, when there is one

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        if attribute_name in self.attributes:
            return self.attributes[attribute_name]
        if self.target is not None and hasattr(self.target, "get_cfn_attribute"):
            return self.target.get_cfn_attribute(attribute_name)
        raise UnformattedGetAttTemplateException()

    def is_created(self) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(
        cls,
        resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        resource = cls.create(
            resource_name, cloudformation_json.get("Properties") or {}, account_id, region_name, kwargs
        )
        resource.deletion_policy = cloudformation_json.get("DeletionPolicy")
        return resource

    @classmethod
    def update_from_cloudformation_json(
        cls,
        original_resource: Any,
        new_resource_name: str,
        cloudformation_json: dict[str, Any],
        account_id: str,
        region_name: str,
    ) -> Any:
        updated = original_resource.update(new_resource_name, cloudformation_json.get("Properties") or {})
        updated.deletion_policy = cloudformation_json.get("DeletionPolicy")
        return updated

    @classmethod
    def delete_from_cloudformation_json(
        cls, resource_name: str, cloudformation_json: dict[str, Any], account_id: str, region_name: str
    ) -> None:
        return None

    def delete(self, account_id: str, region_name: str) -> None:
        self.remove()

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        raise NotImplementedError

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        """Default: replacement."""
        context = {"LogicalId": getattr(self, "logical_resource_id", ""), "ResourceType": self.type_name}
        return type(self).create(name, properties, self.account_id, self.region_name, context)

    def remove(self) -> None:
        return None

    @property
    def type_name(self) -> str:
        return str(getattr(self, "cf_resource_type", ""))


def _generated_name(context: Mapping[str, Any], fallback: str) -> str:
    return f"{context.get('LogicalId') or fallback}-{uuid.uuid4().hex[:12]}"


# Recorded types: (physical id, attributes) from (name, properties, account, region, context).
_Shape = Callable[[str, Mapping[str, Any], str, str, Mapping[str, Any]], tuple[str, dict[str, Any]]]


def _api_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    api_id = _short_id(10)
    endpoint = f"https://{api_id}.execute-api.{region}.amazonaws.com"
    if p.get("ProtocolType") == "WEBSOCKET":
        endpoint = f"wss://{api_id}.execute-api.{region}.amazonaws.com"
    return api_id, {"ApiId": api_id, "ApiEndpoint": endpoint}


def _namespace_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    namespace_id = f"ns-{_short_id(16)}"
    arn = f"arn:{_partition(region)}:servicediscovery:{region}:{account}:namespace/{namespace_id}"
    return namespace_id, {"Id": namespace_id, "Arn": arn, "HostedZoneId": f"Z{_short_id(13).upper()}"}


def _discovery_service_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    service_id = f"srv-{_short_id(16)}"
    arn = f"arn:{_partition(region)}:servicediscovery:{region}:{account}:service/{service_id}"
    return service_id, {"Id": service_id, "Arn": arn, "Name": str(p.get("Name") or name)}


def _scalable_target_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    physical_id = f"{p.get('ResourceId')}|{p.get('ScalableDimension')}|{p.get('ServiceNamespace')}"
    return physical_id, {"Id": physical_id}


def _scaling_policy_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    target = str(p.get("ScalingTargetId") or "").split("|")
    resource_id = p.get("ResourceId") or target[0]
    namespace = p.get("ServiceNamespace") or (target[2] if len(target) > 2 else "ecs")
    arn = (
        f"arn:{_partition(region)}:autoscaling:{region}:{account}:scalingPolicy:{uuid.uuid4()}:resource/"
        f"{namespace}/{resource_id}:policyName/{p.get('PolicyName') or name}"
    )
    return arn, {"Arn": arn}


def _id_shape(length: int, attribute: str) -> _Shape:
    def shape(
        name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        physical_id = _short_id(length)
        return physical_id, {attribute: physical_id}

    return shape


def _stage_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    return str(p.get("StageName") or name), {}


def _default_shape(
    name: str, p: Mapping[str, Any], account: str, region: str, c: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    resource_type = str(c.get("ResourceType") or "AWS::Unknown::Resource")
    service = resource_type.split("::")[1].lower() if resource_type.count("::") == 2 else "unknown"
    kind = resource_type.rsplit("::", 1)[-1].lower()
    arn = f"arn:{_partition(region)}:{service}:{region}:{account}:{kind}/{name}"
    return name, {"Arn": arn, "Id": name, "Name": name}


_RECORDED_SHAPES: dict[str, _Shape] = {
    "AWS::ApiGatewayV2::Api": _api_shape,
    "AWS::ApiGatewayV2::VpcLink": _id_shape(6, "VpcLinkId"),
    "AWS::ApiGatewayV2::Integration": _id_shape(7, "IntegrationId"),
    "AWS::ApiGatewayV2::Route": _id_shape(7, "RouteId"),
    "AWS::ApiGatewayV2::Stage": _stage_shape,
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _namespace_shape,
    "AWS::ServiceDiscovery::Service": _discovery_service_shape,
    "AWS::ApplicationAutoScaling::ScalableTarget": _scalable_target_shape,
    "AWS::ApplicationAutoScaling::ScalingPolicy": _scaling_policy_shape,
}


class _RecordedResource(_AppResource):
    """A type moto's CloudFormation does not know: a plausible physical id and attributes, no backend
    object. Updates are recorded in place; deletes do nothing."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        shape = _RECORDED_SHAPES.get(str(context.get("ResourceType")), _default_shape)
        physical_id, attributes = shape(name, properties, account_id, region_name, context)
        LOG.info(
            "%s %s recorded without a backend object", context.get("ResourceType"), context.get("LogicalId")
        )
        return cls(physical_id, account_id, region_name, properties, attributes)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        self.properties = dict(properties)
        return self


# --- Secrets Manager ------------------------------------------------------------------------------


def _secrets(account_id: str, region_name: str) -> Any:
    from moto.secretsmanager.models import secretsmanager_backends

    return secretsmanager_backends[account_id][region_name]


def _generated_secret(backend: Any, spec: Mapping[str, Any]) -> str:
    password = json.loads(
        backend.get_random_password(
            password_length=int(spec.get("PasswordLength", 32)),
            exclude_characters=str(spec.get("ExcludeCharacters", "")),
            exclude_numbers=_flag(spec.get("ExcludeNumbers")),
            exclude_punctuation=_flag(spec.get("ExcludePunctuation")),
            exclude_uppercase=_flag(spec.get("ExcludeUppercase")),
            exclude_lowercase=_flag(spec.get("ExcludeLowercase")),
            include_space=_flag(spec.get("IncludeSpace")),
            require_each_included_type=_flag(spec.get("RequireEachIncludedType"), default=True),
        )
    )["RandomPassword"]
    template, key = spec.get("SecretStringTemplate"), spec.get("GenerateStringKey")
    if template and key:
        document = json.loads(str(template))
        document[str(key)] = password
        return json.dumps(document)
    return str(password)


class _Secret(_AppResource):
    """AWS::SecretsManager::Secret, a real secret (GenerateSecretString generates its value)."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        backend = _secrets(account_id, region_name)
        secret_name = str(properties.get("Name") or _generated_name(context, "Secret"))
        value = properties.get("SecretString")
        if value is None and properties.get("GenerateSecretString") is not None:
            value = _generated_secret(backend, properties["GenerateSecretString"])
        created = json.loads(
            backend.create_secret(
                name=secret_name,
                secret_string=value,
                secret_binary=None,
                description=properties.get("Description"),
                tags=properties.get("Tags"),
                kms_key_id=properties.get("KmsKeyId"),
                client_request_token=None,
                replica_regions=[],
                force_overwrite=False,
            )
        )
        return cls(created["ARN"], account_id, region_name, properties, {"Id": created["ARN"]}, secret_name)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if properties.get("Name", self.properties.get("Name")) != self.properties.get("Name"):
            return super().update(name, properties)
        backend = _secrets(self.account_id, self.region_name)
        changed_value = properties.get("SecretString") != self.properties.get("SecretString")
        changed_spec = properties.get("GenerateSecretString") != self.properties.get("GenerateSecretString")
        value = None
        if changed_value and properties.get("SecretString") is not None:
            value = properties["SecretString"]
        elif changed_spec and properties.get("GenerateSecretString") is not None:
            value = _generated_secret(backend, properties["GenerateSecretString"])
        backend.update_secret(
            self.physical_resource_id,
            secret_string=value,
            kms_key_id=properties.get("KmsKeyId"),
            description=properties.get("Description"),
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = _secrets(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_secret(self.physical_resource_id, None, True), self.name or "")


class _SecretTargetAttachment(_AppResource):
    """AWS::SecretsManager::SecretTargetAttachment: adds engine, host, port, dbname and
    dbInstanceIdentifier (or dbClusterIdentifier) of the database to the secret's JSON."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        backend = _secrets(account_id, region_name)
        secret_id = str(properties["SecretId"])
        current = backend.get_secret_value(secret_id, None, None)  # type: ignore[arg-type]
        document = json.loads(current.get("SecretString") or "{}")
        document.update(
            _connection_details(
                str(properties["TargetId"]), str(properties.get("TargetType")), account_id, region_name
            )
        )
        backend.put_secret_value(secret_id, json.dumps(document), None, None, ["AWSCURRENT"])  # type: ignore[arg-type]
        return cls(str(current["ARN"]), account_id, region_name, properties)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        return type(self).create(name, properties, self.account_id, self.region_name, {})


def _connection_details(
    target_id: str, target_type: str, account_id: str, region_name: str
) -> dict[str, Any]:
    from moto.rds.models import rds_backends

    rds = rds_backends[account_id][region_name]
    if target_type == "AWS::RDS::DBInstance":
        db = rds.describe_db_instances(target_id)[0]
        details = {
            "engine": db.engine,
            "host": db.address,
            "port": int(db.port),
            "dbInstanceIdentifier": db.db_instance_identifier,
        }
        if db.db_name:
            details["dbname"] = db.db_name
        return details
    if target_type == "AWS::RDS::DBCluster":
        cluster = rds.describe_db_clusters(target_id)[0]
        return {
            "engine": cluster.engine,
            "host": cluster.endpoint,
            "port": int(cluster.port),
            "dbClusterIdentifier": cluster.db_cluster_identifier,
        }
    return {}


# --- ECS ----------------------------------------------------------------------------------------


def _ecs(account_id: str, region_name: str) -> Any:
    from moto.ecs.models import ecs_backends

    return ecs_backends[account_id][region_name]


class _EcsCluster(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        cluster = _ecs(account_id, region_name).create_cluster(
            cluster_name=str(properties.get("ClusterName") or name),
            tags=_camel(properties.get("Tags")),
            cluster_settings=_camel(properties.get("ClusterSettings")),
            configuration=_camel(properties.get("Configuration")),
            capacity_providers=properties.get("CapacityProviders"),
            default_capacity_provider_strategy=_camel(properties.get("DefaultCapacityProviderStrategy")),
            service_connect_defaults=_camel(properties.get("ServiceConnectDefaults")),
        )
        return cls(
            cluster.name, account_id, region_name, properties, {"Arn": cluster.arn}, cluster.name, cluster
        )

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties.get("ClusterName") or self.name) != self.name:
            return super().update(name, properties)
        cluster = self.target
        if "ClusterSettings" in properties:
            cluster.settings = _camel(properties["ClusterSettings"])
        cluster.configuration = _camel(properties.get("Configuration"))
        cluster.tags = _camel(properties.get("Tags"))
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = _ecs(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_cluster(self.name), f"cluster {self.name}")
        backend.clusters.pop(self.name, None)  # AWS lists no INACTIVE cluster


class _EcsCapacityProvider(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        provider = _ecs(account_id, region_name).create_capacity_provider(
            str(properties.get("Name") or name),
            _camel(dict(properties.get("AutoScalingGroupProvider") or {})),
            _camel(properties.get("Tags")),
        )
        return cls(
            provider.name,
            account_id,
            region_name,
            properties,
            {"Arn": provider.capacity_provider_arn},
            provider.name,
            provider,
        )

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties.get("Name") or self.name) != self.name:
            return super().update(name, properties)
        _ecs(self.account_id, self.region_name).update_capacity_provider(
            self.name, _camel(dict(properties.get("AutoScalingGroupProvider") or {}))
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = _ecs(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_capacity_provider(self.name), f"capacity provider {self.name}")


class _EcsClusterCapacityProviders(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        cluster = str(properties["Cluster"]).split("/")[-1]
        _ecs(account_id, region_name).put_cluster_capacity_providers(
            cluster,
            list(properties.get("CapacityProviders") or []),
            _camel(list(properties.get("DefaultCapacityProviderStrategy") or [])),
        )
        return cls(cluster, account_id, region_name, properties, {}, cluster)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties["Cluster"]).split("/")[-1] != self.name:
            return super().update(name, properties)
        return type(self).create(name, properties, self.account_id, self.region_name, {})

    def remove(self) -> None:
        backend = _ecs(self.account_id, self.region_name)
        _ignore_missing(
            lambda: backend.put_cluster_capacity_providers(self.name, [], []), f"cluster {self.name}"
        )


class _EcsTaskDefinition(_AppResource):
    """A revision per create; any change registers a new revision (task definitions are immutable:
    AWS replaces them, the old revision is deregistered during cleanup)."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        p = properties
        task_definition = _ecs(account_id, region_name).register_task_definition(
            family=str(p.get("Family") or name),
            container_definitions=_camel(list(p.get("ContainerDefinitions") or [])),
            volumes=_camel(p.get("Volumes")),
            network_mode=p.get("NetworkMode"),
            tags=_camel(p.get("Tags")),
            placement_constraints=_camel(p.get("PlacementConstraints")),
            requires_compatibilities=p.get("RequiresCompatibilities"),
            cpu=None if p.get("Cpu") is None else str(p["Cpu"]),
            memory=None if p.get("Memory") is None else str(p["Memory"]),
            task_role_arn=p.get("TaskRoleArn"),
            execution_role_arn=p.get("ExecutionRoleArn"),
            proxy_configuration=_camel(p.get("ProxyConfiguration")),
            inference_accelerators=_camel(p.get("InferenceAccelerators")),
            runtime_platform=_camel(p.get("RuntimePlatform")),
            ipc_mode=p.get("IpcMode"),
            pid_mode=p.get("PidMode"),
            ephemeral_storage=_camel(p.get("EphemeralStorage")),
        )
        arn = task_definition.arn
        return cls(
            arn,
            account_id,
            region_name,
            properties,
            {"TaskDefinitionArn": arn},
            task_definition.family,
            task_definition,
        )

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        return type(self).create(str(self.name), properties, self.account_id, self.region_name, {})

    def remove(self) -> None:
        backend = _ecs(self.account_id, self.region_name)
        _ignore_missing(
            lambda: backend.deregister_task_definition(self.physical_resource_id), self.physical_resource_id
        )


def _ecs_network(properties: Mapping[str, Any]) -> Any:
    network = _camel(properties.get("NetworkConfiguration"))
    if network and "awsvpcConfiguration" in network:
        network["awsvpcConfiguration"].setdefault("securityGroups", [])
    return network


class _EcsService(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        p = properties
        cluster = str(p.get("Cluster") or "default").split("/")[-1]
        service = _ecs(account_id, region_name).create_service(
            cluster,
            str(p.get("ServiceName") or name),
            int(p.get("DesiredCount", 1)),
            task_definition_str=p.get("TaskDefinition"),
            load_balancers=_camel(p.get("LoadBalancers")),
            scheduling_strategy=p.get("SchedulingStrategy"),
            tags=_camel(p.get("Tags")),
            deployment_controller=_camel(p.get("DeploymentController")),
            launch_type=p.get("LaunchType"),
            service_registries=_camel(p.get("ServiceRegistries")),
            platform_version=p.get("PlatformVersion"),
            propagate_tags=str(p.get("PropagateTags") or "NONE"),
            network_configuration=_ecs_network(p),
            role_arn=p.get("Role"),
        )
        resource = cls(
            service.arn,
            account_id,
            region_name,
            p,
            {"Name": service.name, "ServiceArn": service.arn},
            service.name,
            service,
        )
        resource.cluster = cluster
        resource._decorate(p)
        return resource

    def _decorate(self, p: Mapping[str, Any]) -> None:
        """What moto's Service does not take: shown by DescribeServices like AWS does."""
        service = self.target
        strategy = _camel(p.get("CapacityProviderStrategy"))
        if strategy:
            service.capacity_provider_strategy = strategy
            if not p.get("LaunchType"):
                service.launch_type = None
                for deployment in service.deployments:
                    deployment["launchType"] = None
                    deployment["capacityProviderStrategy"] = strategy
        if p.get("DeploymentConfiguration") is not None:
            service.deployment_configuration = _camel(p["DeploymentConfiguration"])
        if p.get("HealthCheckGracePeriodSeconds") is not None:
            service.health_check_grace_period_seconds = int(p["HealthCheckGracePeriodSeconds"])
        service.enable_execute_command = _flag(p.get("EnableExecuteCommand"))
        service.enable_ecs_managed_tags = _flag(p.get("EnableECSManagedTags"))

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        p = properties
        cluster = str(p.get("Cluster") or "default").split("/")[-1]
        if cluster != self.cluster or str(p.get("ServiceName") or self.name) != self.name:
            return super().update(name, properties)
        backend = _ecs(self.account_id, self.region_name)
        service = backend.update_service(
            {
                "cluster": cluster,
                "service": self.name,
                "task_definition": p.get("TaskDefinition"),
                "desired_count": int(p.get("DesiredCount", 1)),
            }
        )
        service.load_balancers = _camel(p.get("LoadBalancers")) or []
        service.service_registries = _camel(p.get("ServiceRegistries")) or []
        if p.get("NetworkConfiguration") is not None:
            service.network_configuration = _ecs_network(p)
        for deployment in service.deployments:
            deployment["taskDefinition"] = service.task_definition
            deployment["desiredCount"] = service.desired_count
        self.target = service
        self._decorate(p)
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = _ecs(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_service(self.cluster, self.name, True), f"service {self.name}")
        backend.services.pop(f"{self.cluster}:{self.name}", None)  # AWS lists no INACTIVE service


# --- RDS ------------------------------------------------------------------------------------------


def _rds(account_id: str, region_name: str) -> Any:
    from moto.rds.models import rds_backends

    return rds_backends[account_id][region_name]


def _ec2(account_id: str, region_name: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region_name]


class _DbSubnetGroup(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        group_name = str(properties.get("DBSubnetGroupName") or name).lower()
        subnets = [_ec2(account_id, region_name).get_subnet(i) for i in properties.get("SubnetIds") or []]
        group = _rds(account_id, region_name).create_subnet_group(
            group_name,
            str(properties.get("DBSubnetGroupDescription", "")),
            subnets,
            properties.get("Tags") or [],
        )
        return cls(group.name, account_id, region_name, properties, {}, group.name, group)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties.get("DBSubnetGroupName") or self.name).lower() != self.name:
            return super().update(name, properties)
        subnets = [
            _ec2(self.account_id, self.region_name).get_subnet(i) for i in properties.get("SubnetIds") or []
        ]
        self.target = _rds(self.account_id, self.region_name).modify_db_subnet_group(
            self.name, str(properties.get("DBSubnetGroupDescription", "")), subnets
        )
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        backend = _rds(self.account_id, self.region_name)
        _ignore_missing(lambda: backend.delete_subnet_group(self.name), f"subnet group {self.name}")


_ENGINE_PORTS = {"postgres": 5432, "aurora-postgresql": 5432, "oracle": 1521, "sqlserver": 1433, "db2": 50000}


def _db_kwargs(p: Mapping[str, Any]) -> dict[str, Any]:
    engine = str(p.get("Engine") or "")
    default_port = next((port for prefix, port in _ENGINE_PORTS.items() if engine.startswith(prefix)), 3306)
    kwargs = {
        "engine": engine or None,
        "engine_version": p.get("EngineVersion"),
        "db_instance_class": p.get("DBInstanceClass"),
        "allocated_storage": None if p.get("AllocatedStorage") is None else int(p["AllocatedStorage"]),
        "storage_type": p.get("StorageType"),
        "iops": None if p.get("Iops") is None else int(p["Iops"]),
        "db_name": p.get("DBName"),
        "master_username": p.get("MasterUsername"),
        "master_user_password": p.get("MasterUserPassword"),
        "db_subnet_group_name": None
        if p.get("DBSubnetGroupName") is None
        else str(p["DBSubnetGroupName"]).lower(),
        "vpc_security_group_ids": list(p.get("VPCSecurityGroups") or []),
        "db_security_groups": [],
        "port": int(p.get("Port") or default_port),
        "multi_az": _flag(p.get("MultiAZ")),
        "publicly_accessible": _flag(p.get("PubliclyAccessible")),
        "storage_encrypted": _flag(p.get("StorageEncrypted")),
        "kms_key_id": p.get("KmsKeyId"),
        "backup_retention_period": None
        if p.get("BackupRetentionPeriod") is None
        else int(p["BackupRetentionPeriod"]),
        "preferred_backup_window": p.get("PreferredBackupWindow"),
        "preferred_maintenance_window": None
        if p.get("PreferredMaintenanceWindow") is None
        else str(p["PreferredMaintenanceWindow"]).lower(),
        "auto_minor_version_upgrade": p.get("AutoMinorVersionUpgrade"),
        "copy_tags_to_snapshot": p.get("CopyTagsToSnapshot"),
        "deletion_protection": _flag(p.get("DeletionProtection")),
        "db_parameter_group_name": p.get("DBParameterGroupName"),
        "availability_zone": p.get("AvailabilityZone"),
        "enable_iam_database_authentication": p.get("EnableIAMDatabaseAuthentication"),
        "tags": p.get("Tags") or [],
    }
    return {key: value for key, value in kwargs.items() if value is not None}


class _DbInstance(_AppResource):
    """AWS::RDS::DBInstance with what moto's CloudFormation drops: the subnet group by name,
    VPCSecurityGroups, the engine's default port, DeletionProtection."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        identifier = str(properties.get("DBInstanceIdentifier") or name).replace("_", "-").lower()
        database = _rds(account_id, region_name).create_db_instance(
            {"db_instance_identifier": identifier, **_db_kwargs(properties)}
        )
        return cls(
            identifier,
            account_id,
            region_name,
            properties,
            {"DBInstanceArn": database.db_instance_arn},
            identifier,
            database,
        )

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        explicit = properties.get("DBInstanceIdentifier")
        if (explicit and str(explicit).lower() != self.name) or properties.get(
            "Engine"
        ) != self.properties.get("Engine"):
            return super().update(name, properties)
        wanted, current = _db_kwargs(properties), _db_kwargs(self.properties)
        changes = {key: value for key, value in wanted.items() if current.get(key) != value and key != "tags"}
        changes.pop("db_subnet_group_name", None)
        if changes:
            self.target = _rds(self.account_id, self.region_name).modify_db_instance(self.name, changes)
        self.properties = dict(properties)
        return self

    def remove(self) -> None:
        """DeletionPolicy Snapshot takes a final snapshot; DeletionProtection refuses (as in AWS)."""
        from moto.rds.exceptions import InvalidParameterCombination

        backend = _rds(self.account_id, self.region_name)
        if backend.describe_db_instances(self.name)[0].deletion_protection:  # before any final snapshot
            raise InvalidParameterCombination(
                "Cannot delete protected DB Instance, please disable deletion protection and try again."
            )
        if getattr(self, "deletion_policy", None) == "Snapshot":
            backend.delete_db_instance(self.name, f"{self.name}-snapshot-{_short_id(8)}", False)
        else:
            backend.delete_db_instance(self.name, None, True)


# --- S3, EC2 --------------------------------------------------------------------------------------


def _s3(account_id: str) -> Any:
    from moto.s3.models import s3_backends

    return s3_backends[account_id]["aws"]


class _BucketPolicy(_AppResource):
    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        bucket = str(properties["Bucket"])
        document = properties.get("PolicyDocument")
        text = document if isinstance(document, str) else json.dumps(document)
        _s3(account_id).put_bucket_policy(bucket, text.encode())
        return cls(bucket, account_id, region_name, properties, {}, bucket)

    def update(self, name: str, properties: Mapping[str, Any]) -> Any:
        if str(properties["Bucket"]) != self.name:
            return super().update(name, properties)
        return type(self).create(name, properties, self.account_id, self.region_name, {})

    def remove(self) -> None:
        backend = _s3(self.account_id)
        _ignore_missing(lambda: backend.delete_bucket_policy(self.name), f"policy of {self.name}")


class _SubnetRouteTableAssociation(_AppResource):
    """moto's version records the association without associating (DescribeRouteTables shows none)."""

    @classmethod
    def create(
        cls,
        name: str,
        properties: Mapping[str, Any],
        account_id: str,
        region_name: str,
        context: Mapping[str, Any],
    ) -> Any:
        association_id = _ec2(account_id, region_name).associate_route_table(
            route_table_id=str(properties["RouteTableId"]), subnet_id=str(properties["SubnetId"])
        )
        return cls(association_id, account_id, region_name, properties, {"Id": association_id})

    def remove(self) -> None:
        backend = _ec2(self.account_id, self.region_name)
        _ignore_missing(
            lambda: backend.disassociate_route_table(self.physical_resource_id), self.physical_resource_id
        )


_ADAPTERS: dict[str, type[_AppResource]] = {
    "AWS::SecretsManager::Secret": _Secret,
    "AWS::SecretsManager::SecretTargetAttachment": _SecretTargetAttachment,
    "AWS::ECS::Cluster": _EcsCluster,
    "AWS::ECS::CapacityProvider": _EcsCapacityProvider,
    "AWS::ECS::ClusterCapacityProviderAssociations": _EcsClusterCapacityProviders,
    "AWS::ECS::TaskDefinition": _EcsTaskDefinition,
    "AWS::ECS::Service": _EcsService,
    "AWS::RDS::DBSubnetGroup": _DbSubnetGroup,
    "AWS::RDS::DBInstance": _DbInstance,
    "AWS::S3::BucketPolicy": _BucketPolicy,
    "AWS::EC2::SubnetRouteTableAssociation": _SubnetRouteTableAssociation,
}


# --- fixes to moto's own models -------------------------------------------------------------------


def _fix_subnet(subnet: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    if "MapPublicIpOnLaunch" in p:
        subnet.map_public_ip_on_launch = _flag(p["MapPublicIpOnLaunch"])


def _fix_security_group(group: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    """Inline SecurityGroupEgress replaces the default allow-all rule (moto ignores it)."""
    rules = p.get("SecurityGroupEgress")
    if rules is None:
        return
    ec2 = _ec2(account_id, region_name)
    _ignore_missing(
        lambda: ec2.revoke_security_group_egress(
            group.id, "-1", None, None, [{"CidrIp": "0.0.0.0/0"}], vpc_id=group.vpc_id
        ),
        f"default egress of {group.id}",
    )
    for rule in rules:
        destination = rule.get("DestinationSecurityGroupId")
        ec2.authorize_security_group_egress(
            group.id,
            str(rule.get("IpProtocol")),
            rule.get("FromPort"),
            rule.get("ToPort"),
            [{"CidrIp": rule["CidrIp"], "Description": rule.get("Description", "")}]
            if rule.get("CidrIp")
            else [],
            source_groups=[{"GroupId": destination}] if destination else [],
            vpc_id=group.vpc_id,
        )


def _fix_role(role: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    """PermissionsBoundary (moto ignores it)."""
    from moto.iam.models import iam_backends

    boundary = p.get("PermissionsBoundary")
    if boundary:
        iam_backends[account_id][_partition(region_name)].put_role_permissions_boundary(
            role.name, str(boundary)
        )


def _fix_log_group(group: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    if p.get("KmsKeyId"):
        group.kms_key_id = p["KmsKeyId"]


def _fix_bucket(bucket: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    status = (p.get("VersioningConfiguration") or {}).get("Status")
    if status:
        _s3(account_id).put_bucket_versioning(bucket.name, status)


def _default_key_policy(p: dict[str, Any], account_id: str, region_name: str) -> None:
    """KeyPolicy is optional (AWS applies the default key policy); moto requires it."""
    p.setdefault(
        "KeyPolicy",
        {
            "Version": "2012-10-17",
            "Id": "key-default-1",
            "Statement": [
                {
                    "Sid": "Enable IAM User Permissions",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{_partition(region_name)}:iam::{account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        },
    )


# Properties moto requires but AWS does not (filled in before moto sees them).
_BEFORE_CREATE: dict[str, Callable[[dict[str, Any], str, str], None]] = {
    "AWS::KMS::Key": _default_key_policy,
}


_AFTER_CREATE: dict[str, Callable[[Any, Mapping[str, Any], str, str], None]] = {
    "AWS::EC2::Subnet": _fix_subnet,
    "AWS::EC2::SecurityGroup": _fix_security_group,
    "AWS::IAM::Role": _fix_role,
    "AWS::Logs::LogGroup": _fix_log_group,
    "AWS::S3::Bucket": _fix_bucket,
}


def _update_log_group(group: Any, p: Mapping[str, Any], account_id: str, region_name: str) -> None:
    from moto.logs.models import logs_backends

    backend = logs_backends[account_id][region_name]
    if p.get("RetentionInDays") is not None:
        backend.put_retention_policy(group.name, int(p["RetentionInDays"]))
    else:
        backend.delete_retention_policy(group.name)
    group.kms_key_id = p.get("KmsKeyId")


# In-place updates of moto types whose update moto lacks.
_IN_PLACE_UPDATERS: dict[str, Callable[[Any, Mapping[str, Any], str, str], None]] = {
    "AWS::Logs::LogGroup": _update_log_group,
    "AWS::EC2::Subnet": _fix_subnet,
}


def _delete_route(route: Any, account_id: str, region_name: str) -> None:
    prefix_list = route.destination_prefix_list
    _ec2(account_id, region_name).delete_route(
        route.route_table.id,
        route.destination_cidr_block,
        route.destination_ipv6_cidr_block,
        prefix_list.id if prefix_list else None,
    )


def _detach_gateway(attachment: Any, account_id: str, region_name: str) -> None:
    ec2 = _ec2(account_id, region_name)
    if str(attachment.gateway_id).startswith("vgw-"):
        ec2.detach_vpn_gateway(attachment.gateway_id, attachment.vpc_id)
    else:
        ec2.detach_internet_gateway(attachment.gateway_id, attachment.vpc_id)


def _revoke_ingress(ingress: Any, account_id: str, region_name: str) -> None:
    p = ingress.properties
    source: dict[str, Any] = {}
    if p.get("SourceSecurityGroupId"):
        source["GroupId"] = p["SourceSecurityGroupId"]
    if p.get("SourceSecurityGroupName"):
        source["GroupName"] = p["SourceSecurityGroupName"]
    _ec2(account_id, region_name).revoke_security_group_ingress(
        ingress.security_group.id,
        p.get("IpProtocol"),
        p.get("FromPort"),
        p.get("ToPort"),
        [{"CidrIp": p["CidrIp"], "Description": p.get("Description")}] if p.get("CidrIp") else [],
        source_groups=[source] if source else [],
    )


def _delete_auto_scaling_group(group: Any, account_id: str, region_name: str) -> None:
    """Terminates its instances too (moto leaves them running, which keeps their subnets busy)."""
    from moto.autoscaling.models import autoscaling_backends

    instance_ids = [state.instance.id for state in group.instance_states]
    if instance_ids:
        _ec2(account_id, region_name).terminate_instances(instance_ids)
    autoscaling_backends[account_id][region_name].delete_auto_scaling_group(group.name)


def _elbv2(account_id: str, region_name: str) -> Any:
    from moto.elbv2.models import elbv2_backends

    return elbv2_backends[account_id][region_name]


# Deletes moto lacks (its CloudFormation silently leaves these behind).
_DELETERS: dict[str, Callable[[Any, str, str], None]] = {
    "AWS::EC2::InternetGateway": lambda r, a, g: _ec2(a, g).delete_internet_gateway(r.id),
    "AWS::EC2::VPCGatewayAttachment": _detach_gateway,
    "AWS::EC2::RouteTable": lambda r, a, g: _ec2(a, g).delete_route_table(r.id),
    "AWS::EC2::Route": _delete_route,
    "AWS::EC2::SecurityGroupIngress": _revoke_ingress,
    "AWS::AutoScaling::AutoScalingGroup": _delete_auto_scaling_group,
    "AWS::ElasticLoadBalancingV2::TargetGroup": lambda r, a, g: _elbv2(a, g).delete_target_group(r.arn),
    "AWS::ElasticLoadBalancingV2::Listener": lambda r, a, g: _ignore_missing(
        lambda: _elbv2(a, g).delete_listener(r.arn), r.arn
    ),
}


def _instance_create(
    cls: Any,
    resource_name: str,
    cloudformation_json: dict[str, Any],
    account_id: str,
    region_name: str,
    **kwargs: Any,
) -> Any:
    """ec2 Instance.create_from_cloudformation_json: moto's raises KeyError('ImageId') on a
    LaunchTemplate, ignores SecurityGroupIds, SourceDestCheck and the template's instance profile
    and tags, and launches without a root volume."""
    ec2 = _ec2(account_id, region_name)
    p = cloudformation_json["Properties"]
    extra: dict[str, Any] = {}
    data: dict[str, Any] = {}
    if p.get("LaunchTemplate"):
        spec = {
            k: str(v)
            for k, v in p["LaunchTemplate"].items()
            if k in ("LaunchTemplateId", "LaunchTemplateName", "Version")
        }
        data = dict(ec2._get_template_from_args(spec).data)
        extra["launch_template"] = spec
    if p.get("BlockDeviceMappings") or data.get("BlockDeviceMappings"):  # they replace the AMI's root
        extra["block_device_mappings"] = p.get("BlockDeviceMappings") or data["BlockDeviceMappings"]
    reservation = ec2.run_instances(
        image_id=p.get("ImageId") or data.get("ImageId"),
        user_data=p.get("UserData"),
        count=1,
        security_group_names=[ec2.get_security_group_from_id(g).name for g in p.get("SecurityGroups", [])],
        instance_type=p.get("InstanceType") or "m1.small",
        is_instance_type_default=not p.get("InstanceType"),
        subnet_id=p.get("SubnetId"),
        key_name=p.get("KeyName"),
        private_ip=p.get("PrivateIpAddress"),
        security_group_ids=list(p.get("SecurityGroupIds") or []),
        **extra,
    )
    instance = reservation.instances[0]
    tags = [
        tag
        for spec in data.get("TagSpecifications") or []
        if spec.get("ResourceType") == "instance"
        for tag in spec.get("Tags") or []
    ]
    for tag in [*tags, *(p.get("Tags") or [])]:
        instance.add_tag(tag["Key"], tag["Value"])
    if "SourceDestCheck" in p:
        instance.source_dest_check = _flag(p["SourceDestCheck"])
    profile = p.get("IamInstanceProfile")
    template_profile = data.get("IamInstanceProfile") or {}
    if profile or template_profile:
        ec2.associate_iam_instance_profile(
            instance_id=instance.id,
            iam_instance_profile_name=profile or template_profile.get("Name"),
            iam_instance_profile_arn=None if profile else template_profile.get("Arn"),
        )
    return instance


def _instance_add_block_device(
    self: Any,
    size: int | None,
    device_path: str,
    snapshot_id: str | None,
    encrypted: bool,
    delete_on_termination: bool,
    kms_key_id: str | None,
    volume_type: str | None,
) -> None:
    """ec2 Instance.add_block_device: an Ebs mapping with neither VolumeSize nor SnapshotId takes the
    AMI's snapshot size in AWS (moto raises MissingParameter size/snapshot); 8 GiB here."""
    from moto.ec2.models.instances import Instance

    if size is None and not snapshot_id:
        size = 8
    _call_original(
        Instance,
        "add_block_device",
        self,
        size,
        device_path,
        snapshot_id,
        encrypted,
        delete_on_termination,
        kms_key_id,
        volume_type,
    )


_INSTANCE_ATTRIBUTES = {
    "PrimaryNetworkInterfaceId": lambda i: i.nics[0].id if i.nics else None,
    "VpcId": lambda i: i.vpc_id,
    "SubnetId": lambda i: i.subnet_id,
    "InstanceId": lambda i: i.id,
    "PrivateDnsName": lambda i: i.private_dns_name,
}


def _instance_get_cfn_attribute(self: Any, attribute_name: str) -> Any:
    """ec2 Instance.get_cfn_attribute + PrimaryNetworkInterfaceId, VpcId, SubnetId, InstanceId."""
    from moto.ec2.models.instances import Instance

    if attribute_name in _INSTANCE_ATTRIBUTES:
        return _INSTANCE_ATTRIBUTES[attribute_name](self)
    return _call_original(Instance, "get_cfn_attribute", self, attribute_name)


def installed_patches() -> Iterable[str]:
    """Names of the moto attributes currently replaced (for diagnostics)."""
    return sorted(f"{key[1]}" for key in _state.originals)


__all__ = [
    "CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX",
    "RESOURCE_STATUS_DETAIL_TYPE",
    "STACK_STATUS_DETAIL_TYPE",
    "LambdaContext",
    "clear_stack_hooks",
    "custom_resource_response_bucket",
    "delay_next_stack_creation",
    "delay_next_stack_deletion",
    "delay_next_stack_update",
    "enable_state_machine_execution",
    "fail_next_stack_creation",
    "fail_next_stack_deletion",
    "fail_next_stack_rollback",
    "fail_next_stack_update",
    "install",
    "invoke_async",
    "put_service_event",
    "register_service_account",
    "set_stack_completion_hook",
    "set_stack_operations_in_background",
    "set_time_scale",
    "stack_status_event",
    "stop_executions",
    "suppress_stack_status_events",
    "trust_policy_allows",
]
