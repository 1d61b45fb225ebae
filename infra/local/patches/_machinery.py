"""What every patch shares: the module state, the ONE moto version guard (`_require_version`,
`_replace`, `_original`, `_call_original`), scaled sleeps and the patches' threads.

The state lives here and only here: other modules import the `_state` object (never rebound, only
mutated) and `_tls`, so every section sees the same values.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import moto

SUPPORTED_MOTO_VERSION = "5.2.5"
DEFAULT_SERVICE_ACCOUNT = "123456789012"
# moto maps every access key that is not 20 chars [A-Z0-9] (e.g. the Step Functions SDK key "ak")
# to this one, so registering it makes the whole service side act as the service account.
SERVICE_ACCESS_KEY = "AKIAEXAMPLE"

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
    # Lambda: (account, region, function, version) -> its one warm container; guarded by `turns`,
    # which every queued invocation waits on. `queued`: thread id -> the container it waits for.
    containers: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)
    turns: threading.Condition = field(default_factory=threading.Condition)
    queued: dict[int, Any] = field(default_factory=dict)
    originals: dict[tuple[int, str], Any] = field(default_factory=dict)


_state = _State()
_tls = threading.local()


class _Aborted(Exception):
    """A background wait was cancelled by stop_executions()."""


# --------------------------------------------------------------------------------------------------
# Patch machinery
# --------------------------------------------------------------------------------------------------


def _require_version(patch_name: str) -> None:
    if moto.__version__ != SUPPORTED_MOTO_VERSION:
        raise RuntimeError(
            f"stackpilot patch '{patch_name}' was written against moto {SUPPORTED_MOTO_VERSION} "
            f"internals but moto {moto.__version__} is installed: re-check every patch in "
            "infra/local/patches/ against the new moto source (tests/infrastructure/local_cloud/ has "
            "a smoke test per patch; infra/local/README.md maps them), then update SUPPORTED_MOTO_VERSION"
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


def _scaled_sleep(seconds: float) -> bool:
    """Sleep seconds*scale, waking early when stop_executions() runs. True if it slept the whole
    time; False if stop_executions() cut it short: what was waiting must then give up, not go on
    (it would act after the last snapshot, or on the next local cloud of this process)."""
    generation = _state.generation
    deadline = time.monotonic() + max(0.0, float(seconds)) * _scale()
    while generation == _state.generation:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        _state.interrupt.wait(min(remaining, 0.1))
    return False


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


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
