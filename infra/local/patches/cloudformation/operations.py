"""Stack operations inline (moto's synchronous semantics) or in the background (AWS's), with the
faults and delays tests inject (fail_next_stack_*/delay_next_stack_*) and the helpers that turn any
error of an operation into a failed resource."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.local.patches._machinery import _Aborted, _scaled_sleep, _StackRule, _state, _tls
from infra.local.patches.cloudformation._common import STACK_TYPE, _has_custom_resources, _ResourceFailed
from infra.local.patches.cloudformation.status_events import _add_resource_event

LOG = logging.getLogger(__name__)


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
    # A delay cut short by stop_executions() ends the operation where it is (still *_IN_PROGRESS,
    # as the last snapshot saw it): going on would complete it after the snapshot and send its
    # status event into the next local cloud of this process.
    if delay is not None and not _scaled_sleep(delay.seconds):
        raise _Aborted(f"{operation} of {stack.name}")
    return plan


def _current_plan() -> _Plan | None:
    return getattr(_tls, "plan", None)


def _in_operation_for(stack_id: str) -> bool:
    return _state.busy_stacks.get(stack_id) is threading.current_thread()


#: How long a request waits for a settled operation's thread to let go of its stack (real time: the
#: thread has nothing left to do but tidy up).
_SETTLE_SECONDS = 5.0


def _busy(stack: Any) -> bool:
    """Whether another operation still holds the stack. One that has reached its final status (and
    sent its status event, on which a caller may act at once) is only tidying up: as in AWS, the
    stack is already free, so wait for its thread rather than refuse the request."""
    with _state.lock:
        holder = _state.busy_stacks.get(stack.stack_id)
    if holder is None or holder is threading.current_thread():
        return False
    if str(stack.status).endswith("_IN_PROGRESS"):
        return True
    holder.join(_SETTLE_SECONDS)
    with _state.lock:
        return stack.stack_id in _state.busy_stacks


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
