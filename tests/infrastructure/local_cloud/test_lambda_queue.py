"""One invocation at a time per function (infra/local/patches/lambda_runtime.py): a function's
invocations queue for its one warm container, first come first served; different functions run
side by side; a wait that could never end is refused instead of hanging.

Every wait here is on an event a handler sets or on the queue's own length, never on time."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from infra.local.patches import lambda_runtime
from tests.fixtures import isolation_handlers as handlers
from tests.infrastructure.local_cloud.support import client, lambda_role, wait_until, zip_bytes

TIMEOUT = 7  # seconds, the test functions' Timeout


@pytest.fixture(autouse=True)
def _fresh_handlers() -> Iterator[None]:
    handlers.reset()
    yield
    for key in ("k1", "k2", "k3", "b1"):  # never leave a handler waiting on a gate
        handlers.open_gate(key)


def create(name: str, handler: str) -> None:
    client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=lambda_role(),
        Handler=f"tests.fixtures.isolation_handlers.{handler}",
        Code={"ZipFile": zip_bytes()},
        Timeout=TIMEOUT,
        MemorySize=256,
    )


def invoke_in_thread(function: str, payload: dict[str, Any], **kwargs: Any) -> tuple[threading.Thread, dict]:
    reply: dict[str, Any] = {}

    def call() -> None:
        try:
            answer = client("lambda").invoke(FunctionName=function, Payload=json.dumps(payload), **kwargs)
            reply["status"] = answer["StatusCode"]
            reply["body"] = answer["Payload"].read()
        except Exception as error:
            reply["error"] = error

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread, reply


def queue_reaches(function: str, length: int) -> None:
    wait_until(lambda: lambda_runtime.queued(function) == length, what=f"{length} queued for {function}")


def test_one_function_serves_one_invocation_at_a_time_in_arrival_order(aws: None) -> None:
    # GIVEN an invocation of gate-a holding its container
    create("gate-a", "gate")
    first, _ = invoke_in_thread("gate-a", {"key": "k1"})
    assert handlers.entered("k1")

    # WHEN two more arrive, one after the other
    second, _ = invoke_in_thread("gate-a", {"key": "k2"})
    queue_reaches("gate-a", 1)
    third, _ = invoke_in_thread("gate-a", {"key": "k3"})
    queue_reaches("gate-a", 2)

    # THEN they wait: neither handler has started while the first runs
    assert not handlers.has_entered("k2")
    assert not handlers.has_entered("k3")
    handlers.open_gate("k3")  # opened first, yet k3 still waits for k2
    handlers.open_gate("k1")
    assert handlers.entered("k2")
    handlers.open_gate("k2")
    for thread in (first, second, third):
        thread.join(10)
    # ... and each ran alone, in the order they arrived
    assert handlers.TRACE == [
        ("gate-a", "k1", "enter"),
        ("gate-a", "k1", "exit"),
        ("gate-a", "k2", "enter"),
        ("gate-a", "k2", "exit"),
        ("gate-a", "k3", "enter"),
        ("gate-a", "k3", "exit"),
    ]


def test_different_functions_run_side_by_side(aws: None) -> None:
    # GIVEN gate-a busy with an invocation
    create("gate-a", "gate")
    create("gate-b", "gate")
    first, _ = invoke_in_thread("gate-a", {"key": "k1"})
    assert handlers.entered("k1")

    # WHEN gate-b is invoked
    other, reply = invoke_in_thread("gate-b", {"key": "b1"})

    # THEN it runs at once, while gate-a's invocation is still inside its handler
    assert handlers.entered("b1")
    handlers.open_gate("b1")
    other.join(10)
    assert reply["status"] == 200
    assert handlers.TRACE == [("gate-a", "k1", "enter"), ("gate-b", "b1", "enter"), ("gate-b", "b1", "exit")]
    handlers.open_gate("k1")
    first.join(10)


def test_asynchronous_invocations_queue_too(aws: None) -> None:
    # GIVEN a synchronous invocation holding gate-a
    create("gate-a", "gate")
    first, _ = invoke_in_thread("gate-a", {"key": "k1"})
    assert handlers.entered("k1")

    # WHEN an Event invocation of it arrives
    accepted = client("lambda").invoke(
        FunctionName="gate-a", InvocationType="Event", Payload=b'{"key": "k2"}'
    )

    # THEN it is accepted at once, and runs only once the first is done
    assert accepted["StatusCode"] == 202
    queue_reaches("gate-a", 1)
    assert not handlers.has_entered("k2")
    handlers.open_gate("k1")
    assert handlers.entered("k2")
    handlers.open_gate("k2")
    first.join(10)
    wait_until(lambda: len(handlers.TRACE) == 4, what="the async invocation to end")
    assert [(key, step) for _, key, step in handlers.TRACE] == [
        ("k1", "enter"),
        ("k1", "exit"),
        ("k2", "enter"),
        ("k2", "exit"),
    ]


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_wait_in_the_queue_is_not_the_handlers_time(aws: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a clock the test moves, and gate-a busy
    clock = _Clock()
    monkeypatch.setattr(lambda_runtime, "_now", clock)
    create("gate-a", "gate")
    first, _ = invoke_in_thread("gate-a", {"key": "k1"})
    assert handlers.entered("k1")
    second, _ = invoke_in_thread("gate-a", {"key": "k2"})
    queue_reaches("gate-a", 1)

    # WHEN the second waits 5 of the function's 7 seconds before its turn
    clock.now += 5
    handlers.open_gate("k1")
    assert handlers.entered("k2")

    # THEN its handler still starts with the whole timeout before it
    assert handlers.REMAINING_MS["k2"] == TIMEOUT * 1000
    handlers.open_gate("k2")
    first.join(10)
    second.join(10)


def test_invocations_queued_behind_one_past_its_timeout_are_refused(
    aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN gate-a running, an invocation queued behind it
    clock = _Clock()
    monkeypatch.setattr(lambda_runtime, "_now", clock)
    create("gate-a", "gate")
    first, _ = invoke_in_thread("gate-a", {"key": "k1"})
    assert handlers.entered("k1")
    second, reply = invoke_in_thread("gate-a", {"key": "k2"})
    queue_reaches("gate-a", 1)

    # WHEN the running one goes past its timeout (Lambda would have stopped it; a thread cannot be)
    clock.now += TIMEOUT + lambda_runtime.OVERRUN_GRACE_SECONDS + 1

    # THEN the queued one is refused as Lambda refuses a function with no free container
    second.join(10)
    error = reply["error"].response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert error["Error"]["Code"] == "TooManyRequestsException"
    assert "has run past the function's 7 s timeout" in error["Error"]["Message"]
    assert not handlers.has_entered("k2")
    assert lambda_runtime.queued("gate-a") == 0
    handlers.open_gate("k1")
    first.join(10)


def _refused(body: dict[str, Any]) -> dict[str, Any]:
    return body if "refused" in body else _refused(body["reply"])


@pytest.mark.parametrize(
    ("chain", "path"),
    [
        (["chain-a"], []),  # chain-a invokes itself
        (["chain-b", "chain-a"], ["chain-a"]),  # chain-a -> chain-b -> chain-a
    ],
)
def test_a_synchronous_call_back_into_a_running_function_is_refused_not_hung(
    aws: None, chain: list[str], path: list[str]
) -> None:
    # GIVEN two functions that invoke the next one of a list synchronously
    create("chain-a", "chain")
    create("chain-b", "chain")

    # WHEN chain-a's invocation leads back to chain-a
    answer = client("lambda").invoke(FunctionName="chain-a", Payload=json.dumps({"next": chain}))

    # THEN the call back into it is refused at once (it could only wait forever) and the chain answers
    body = json.load(answer["Payload"])
    assert "FunctionError" not in answer
    vias = []
    while "via" in body:
        vias.append(body["via"])
        body = body["reply"]
    assert vias == path
    assert body["refused"] == "TooManyRequestsException"
    assert body["message"].startswith("chain-a is already running on this thread")


def test_a_chain_through_other_functions_runs(aws: None) -> None:
    create("chain-a", "chain")
    create("chain-b", "chain")

    answer = client("lambda").invoke(FunctionName="chain-a", Payload=json.dumps({"next": ["chain-b"]}))

    assert json.load(answer["Payload"]) == {"via": "chain-a", "reply": {"done": "chain-b"}}
