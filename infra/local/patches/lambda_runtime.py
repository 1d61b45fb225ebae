"""1. Lambda: handlers run in-process (every caller - API, SNS, SQS, Step Functions, CloudFormation -
lands in the replaced `LambdaFunction.invoke`), with Lambda's context object, error contract and
asynchronous retries, one invocation at a time per function (its one warm container)."""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from moto.awslambda.exceptions import LambdaClientError

from infra.local.patches import backends
from infra.local.patches._machinery import _replace, _scaled_sleep, _spawn, _state

LOG = logging.getLogger(__name__)


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
        self._deadline = _now() + float(function.timeout or 3)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - _now()) * 1000))


def _now() -> float:
    """The clock of handlers' deadlines (a test may stand in its own)."""
    return time.monotonic()


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
    """Run the handler in its function's turn (may raise FunctionBusy); returns (payload, failed)
    following Lambda's error contract."""
    with _turn(function, request_id) as turn:
        return _call_handler(function, event, request_id, turn)


def _call_handler(function: Any, event: Any, request_id: str, turn: _Turn) -> tuple[bytes, bool]:
    try:
        handler = _load_handler(function.handler)
        # INIT (the first import) and the queue wait are not the handler's time: its clock starts now.
        context = LambdaContext(function, request_id)
        turn.deadline = context._deadline
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


# --------------------------------------------------------------------------------------------------
# One invocation at a time per function
# --------------------------------------------------------------------------------------------------
#
# A handler's module is imported once per process, so the functions' module state (Powertools'
# resolver and its current event, loggers, caches) is that of ONE warm container per function:
# like a function whose only container is busy, an invocation waits for the one before it (first
# come, first served), sync or async. Different functions run side by side.

# How long past a running invocation's timeout (when Lambda would have stopped it) the ones queued
# behind it keep waiting before they are refused: a thread cannot be stopped.
OVERRUN_GRACE_SECONDS = 5.0
INIT_LIMIT_SECONDS = 10.0  # Lambda's limit on INIT (the handler module's first import)
_WAIT_SLICE_SECONDS = 0.5  # a waiter looks at the clock at least this often


class FunctionBusy(LambdaClientError):
    """What Lambda answers a function with no free container: 429 TooManyRequestsException."""

    code = 429

    def __init__(self, message: str) -> None:
        super().__init__("TooManyRequestsException", message)


@dataclass(eq=False)
class _Turn:
    thread: int
    request_id: str
    deadline: float = 0.0  # when Lambda would stop it (INIT included until the handler starts)


@dataclass(eq=False)
class _Container:
    name: str
    timeout: float
    generation: int
    running: _Turn | None = None
    waiting: deque[_Turn] = field(default_factory=deque)


def _container(function: Any) -> _Container:
    """The function's container; a new one after stop_executions() (stale threads hold the old)."""
    key = (str(function.account_id), str(function.region), str(function.function_name), str(function.version))
    container = _state.containers.get(key)
    if container is None or container.generation != _state.generation:
        container = _Container(str(function.function_name), float(function.timeout or 3), _state.generation)
        _state.containers[key] = container
    return container


@contextmanager
def _turn(function: Any, request_id: str) -> Iterator[_Turn]:
    me = _Turn(threading.get_ident(), request_id)
    with _state.turns:
        container = _container(function)
        container.waiting.append(me)
        _state.queued[me.thread] = container
        try:
            while container.running is not None or container.waiting[0] is not me:
                _refuse_endless_wait(container, me)
                _state.turns.wait(_WAIT_SLICE_SECONDS)
        except BaseException:  # FunctionBusy, or anything else: never leave a dead turn queued
            container.waiting.remove(me)
            _state.turns.notify_all()
            raise
        finally:
            del _state.queued[me.thread]
        container.waiting.popleft()
        me.deadline = _now() + INIT_LIMIT_SECONDS + container.timeout
        container.running = me
    try:
        yield me
    finally:
        with _state.turns:
            container.running = None
            _state.turns.notify_all()


def _refuse_endless_wait(container: _Container, me: _Turn) -> None:
    """Refuse a wait that could never end, as FunctionBusy, instead of hanging."""
    holders: set[int] = set()
    blocking: _Container | None = container
    # Who holds what this thread waits for, what does that thread wait for, ...: back to this thread
    # means a synchronous chain re-entered a function it is already running (in-process, the whole
    # chain runs on the caller's thread).
    while blocking is not None and blocking.running is not None and blocking.running.thread not in holders:
        if blocking.running.thread == me.thread:
            raise FunctionBusy(
                f"{container.name} is already running on this thread (it invoked itself synchronously, "
                "directly or through other functions): the local cloud runs one invocation of a function "
                "at a time, so this one could only wait forever"
            )
        holders.add(blocking.running.thread)
        blocking = _state.queued.get(blocking.running.thread)
    holder = container.running
    if holder is not None and _now() > holder.deadline + OVERRUN_GRACE_SECONDS:
        raise FunctionBusy(
            f"{container.name}: invocation {holder.request_id} has run past the function's "
            f"{container.timeout:g} s timeout (Lambda would have stopped it; a thread cannot be), "
            "so the invocations queued behind it are refused"
        )


def queued(function_name: str) -> int:
    """How many invocations of the function wait for their turn (tests)."""
    with _state.turns:
        return sum(
            len(c.waiting)
            for c in _state.containers.values()
            if c.name == function_name and c.generation == _state.generation
        )


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


def _run_async(function: Any, event: Any, generation: int) -> None:
    for attempt, delay in enumerate((0.0, *ASYNC_RETRY_DELAYS_SECONDS)):
        # stop_executions() since the invocation was queued (or during the wait for a retry): the
        # invocation is lost with the local cloud that queued it, as in a process that died. Run
        # now, it would find no emulator (the mock stopped) or the next local cloud of this process.
        if (delay and not _scaled_sleep(delay)) or generation != _state.generation:
            name = function.function_name
            LOG.info("async invocation %d of %s dropped: the local cloud stopped", attempt + 1, name)
            return
        try:
            payload, failed = _run_handler(function, event, str(uuid.uuid4()))
        except FunctionBusy as busy:
            payload, failed = _error_payload(busy.error_type, busy.message, []), True
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
    _spawn(_run_async, f"lambda-{function.function_name}", function, event, _state.generation)


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
    try:
        with _turn(self, request_id) as turn:
            started = time.monotonic()
            payload, failed = _call_handler(self, event, request_id, turn)
            log_result = _log_result(request_id, self, started)
    except FunctionBusy as busy:
        LOG.error("refused an invocation: %s", busy.message)
        raise
    if failed:
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-log-result"] = log_result
    return payload


def _lambda_function(function_arn: str) -> Any:
    parts = function_arn.split(":")
    qualifier = parts[7] if len(parts) == 8 else None
    return backends.lambda_(parts[4], parts[3]).get_function(":".join(parts[:7]), qualifier)


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    lowered = name.lower()
    for key, value in dict(headers).items():
        if str(key).lower() == lowered:
            return str(value)
    return None


def patch() -> None:
    from moto.awslambda.models import LambdaFunction

    _replace(LambdaFunction, "invoke", _lambda_invoke, "lambda in-process invoke")
