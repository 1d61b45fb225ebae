"""Stack operations (infra/local/patches/cloudformation/operations.py): who holds a stack, and when
the next request may act on it."""

from __future__ import annotations

import threading
import time
import types

from infra.local.patches._machinery import _state
from infra.local.patches.cloudformation.operations import _busy


def holding(stack_id: str, seconds: float) -> threading.Thread:
    """An operation's thread that still holds the stack for ``seconds`` (tidying up), then lets go."""

    def tidy() -> None:
        time.sleep(seconds)
        with _state.lock:
            _state.busy_stacks.pop(stack_id, None)

    thread = threading.Thread(target=tidy, daemon=True)
    with _state.lock:
        _state.busy_stacks[stack_id] = thread
    thread.start()
    return thread


def test_a_settled_operation_still_tidying_up_does_not_refuse_the_next_request() -> None:
    # GIVEN a stack whose update has reached UPDATE_COMPLETE (its status event is out: a caller may
    # delete it at once) while the update's thread still holds the stack
    stack = types.SimpleNamespace(stack_id="arn:stack/settled", status="UPDATE_COMPLETE")
    holder = holding(stack.stack_id, 0.05)
    # WHEN a DeleteStack or an update asks whether the stack is busy
    # THEN it waits for that thread to let go, and goes ahead (before, it was silently ignored)
    assert _busy(stack) is False
    assert not holder.is_alive()


def test_an_operation_in_progress_still_holds_its_stack() -> None:
    stack = types.SimpleNamespace(stack_id="arn:stack/working", status="UPDATE_IN_PROGRESS")
    holder = holding(stack.stack_id, 0.05)
    try:
        assert _busy(stack) is True
    finally:
        holder.join()
    assert _busy(stack) is False
