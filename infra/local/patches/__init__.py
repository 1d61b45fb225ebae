"""Every patch of moto internals the local cloud needs: the public API and the one `install()`.

moto has no plug-in API for what the local cloud needs (Lambdas that really run, Step Functions
that wait in scaled time, STS that evaluates trust policies, EventBridge targets, CloudFormation
custom resources answered through S3, stack status events, AWS's stack status sequences with
injected faults, the resource types of an application stack), so each behaviour replaces a moto
internal. Every replacement goes through `_machinery._replace`, pinned to the moto version it was
written against: `install()` refuses to patch any other version, and `tests/infrastructure/local_cloud/`
smoke-tests every patch, so a moto upgrade fails loudly instead of silently changing behaviour.

Which module holds which patch, the facts relied upon (measured on moto 5.2.5) and how to add a
patch: `infra/local/README.md`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from infra.local.patches import cloudformation as _cloudformation
from infra.local.patches import codebuild, dynamodb, eventbridge, lambda_runtime, sns, stepfunctions, sts
from infra.local.patches._machinery import (
    DEFAULT_SERVICE_ACCOUNT,
    SERVICE_ACCESS_KEY,
    SUPPORTED_MOTO_VERSION,
    StackCompletionHook,
    _join_threads,
    _quiet_loggers,
    _require_version,
    _StackRule,
    _state,
)
from infra.local.patches.cloudformation.custom_resources import (
    CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX,
    custom_resource_response_bucket,
)
from infra.local.patches.cloudformation.status_events import (
    RESOURCE_STATUS_DETAIL_TYPE,
    STACK_STATUS_DETAIL_TYPE,
    stack_status_event,
)
from infra.local.patches.codebuild import (
    BUILD_STATE_DETAIL_TYPE,
    build_state_event,
    clear_build_faults,
    fail_next_build,
    hang_next_build,
    settle_builds,
)
from infra.local.patches.eventbridge import put_service_event
from infra.local.patches.lambda_runtime import ASYNC_RETRY_DELAYS_SECONDS, LambdaContext, invoke_async
from infra.local.patches.sts import trust_policy_allows

# --------------------------------------------------------------------------------------------------
# Installing
# --------------------------------------------------------------------------------------------------


def install(*, time_scale: float = 1.0) -> None:
    """Apply every patch (once) and set the time scale. Safe to call any number of times."""
    set_time_scale(time_scale)
    with _state.lock:
        if _state.installed:
            return
        # Each _replace() checks the version and names its patch in the error.
        lambda_runtime.patch()
        sns.patch()
        stepfunctions.patch()
        sts.patch()
        eventbridge.patch()
        _cloudformation.patch()
        dynamodb.patch()
        codebuild.patch()
        _quiet_loggers()
        _state.installed = True


def installed_patches() -> Iterable[str]:
    """Names of the moto attributes currently replaced (for diagnostics)."""
    return sorted(f"{key[1]}" for key in _state.originals)


def set_time_scale(scale: float) -> None:
    """Wait states, Retry backoffs and custom-resource timeouts last `seconds * scale`."""
    if not 0 < scale <= 1:
        raise ValueError(f"time scale must be in (0, 1], got {scale}")
    _state.time_scale = float(scale)


def stop_executions() -> None:
    """Stop every running Step Functions execution, background CloudFormation wait and CodeBuild
    build (teardown: a build's thread ends without recording anything more)."""
    with _state.lock:
        _state.generation += 1
        _state.interrupt.set()
        executions, _state.executions = _state.executions, []
    for execution in executions:
        stepfunctions._stop_execution(execution)
    _join_threads(timeout=2.0)
    with _state.lock:
        _state.interrupt.clear()
        _state.busy_stacks.clear()


def background_progress() -> int:
    """A number that grows while executions and stack operations change moto's state without a
    request (the local cloud's snapshots follow it): the running executions' history events, a
    tick every second while a stack operation runs, and every change a CodeBuild build makes."""
    import time

    with _state.lock:
        executions = [e for e in _state.executions if e.exec_status == "RUNNING"]
        busy = bool(_state.busy_stacks)
    events = 0
    for execution in executions:
        env = getattr(getattr(execution, "exec_worker", None), "env", None)
        events += len(getattr(getattr(env, "event_manager", None), "_history_event_list", ()))
    return events + (int(time.monotonic()) if busy else 0) + codebuild.progress()


def register_service_account(account_id: str = DEFAULT_SERVICE_ACCOUNT) -> None:
    """Make AKIAEXAMPLE (Step Functions SDK clients, dummy credentials) act as `account_id`.

    moto keeps access keys in its IAM backends, which a reset wipes: call again after every reset.
    """
    from moto.iam.models import AccessKey

    from infra.local.patches import backends

    _require_version("register_service_account")
    _state.service_account = account_id
    for partition_backends in backends.iam_accounts().values():
        for iam_backend in partition_backends.values():
            iam_backend.access_keys.pop(SERVICE_ACCESS_KEY, None)
    access_key_class: Any = AccessKey  # moto's model class, typed abstract
    key = access_key_class(user_name=None, prefix="AKIA", account_id=account_id)
    key.access_key_id = SERVICE_ACCESS_KEY
    backends.iam(account_id).access_keys[SERVICE_ACCESS_KEY] = key


def enable_state_machine_execution() -> None:
    """Server mode: make moto's Step Functions execute definitions (mock_aws takes it as config)."""
    from moto.core.config import default_user_config

    default_user_config.setdefault("stepfunctions", {})["execute_state_machine"] = True  # type: ignore[typeddict-item]


# --------------------------------------------------------------------------------------------------
# CloudFormation: hooks, injected faults and delays, background operations, silenced events
# --------------------------------------------------------------------------------------------------


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
    """Forget the completion hook, every pending fail/delay rule, every event suppression and every
    pending CodeBuild fault."""
    with _state.lock:
        _state.completion_hook = None
        _state.stack_rules.clear()
        _state.silenced_stacks.clear()
    clear_build_faults()


__all__ = [
    "ASYNC_RETRY_DELAYS_SECONDS",
    "BUILD_STATE_DETAIL_TYPE",
    "CUSTOM_RESOURCE_RESPONSE_BUCKET_PREFIX",
    "DEFAULT_SERVICE_ACCOUNT",
    "RESOURCE_STATUS_DETAIL_TYPE",
    "SERVICE_ACCESS_KEY",
    "STACK_STATUS_DETAIL_TYPE",
    "SUPPORTED_MOTO_VERSION",
    "LambdaContext",
    "StackCompletionHook",
    "background_progress",
    "build_state_event",
    "clear_build_faults",
    "clear_stack_hooks",
    "custom_resource_response_bucket",
    "delay_next_stack_creation",
    "delay_next_stack_deletion",
    "delay_next_stack_update",
    "enable_state_machine_execution",
    "fail_next_build",
    "fail_next_stack_creation",
    "fail_next_stack_deletion",
    "fail_next_stack_rollback",
    "fail_next_stack_update",
    "hang_next_build",
    "install",
    "installed_patches",
    "invoke_async",
    "put_service_event",
    "register_service_account",
    "set_stack_completion_hook",
    "set_stack_operations_in_background",
    "set_time_scale",
    "settle_builds",
    "stack_status_event",
    "stop_executions",
    "suppress_stack_status_events",
    "trust_policy_allows",
]
