"""1. Lambda: handlers run in-process (every caller - API, SNS, SQS, Step Functions, CloudFormation -
lands in the replaced `LambdaFunction.invoke`), with Lambda's context object, error contract and
asynchronous retries."""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

from infra.local.patches import backends
from infra.local.patches._machinery import _replace, _scaled_sleep, _spawn

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
