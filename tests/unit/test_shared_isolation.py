"""What two functions in one process share must not carry one request into another: the local cloud
runs every function in one process (on Lambda each has its own). Powertools keeps the event being
resolved on a class shared by every resolver, and a Logger's keys on a formatter shared by every
Logger of its service. Threads are made to interleave with events, never with time."""

from __future__ import annotations

import io
import json
import threading
from contextlib import redirect_stdout
from typing import Any

from functions.shared.observability import logger
from functions.shared.rest import resolver as rest


def proxy_event(path: str, user: str) -> dict[str, Any]:
    return {
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": {},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "body": None,
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": f"request-of-{user}",
            "stage": "local",
            "path": path,
            "authorizer": {"org_id": f"org_{user}", "user_id": user, "role": "viewer"},
        },
    }


def test_two_resolvers_answering_at_once_each_read_their_own_event() -> None:
    # GIVEN two API functions' resolvers, whose routes report the request and caller they see
    first, second = rest.rest_app(logger("one")), rest.rest_app(logger("two"))
    first_started, second_resolved = threading.Event(), threading.Event()

    @first.get("/one")
    def one() -> dict[str, str]:
        first_started.set()
        second_resolved.wait(10)  # the second function resolves its own request meanwhile
        return {"path": first.current_event.path, "user": rest.principal(first).user_id}

    @second.get("/two")
    def two() -> dict[str, str]:
        return {"path": second.current_event.path, "user": rest.principal(second).user_id}

    # WHEN the second answers while the first is inside its route
    answers: dict[str, Any] = {}
    thread = threading.Thread(
        target=lambda: answers.update(one=first.resolve(proxy_event("/one", "ann"), None))
    )
    thread.start()
    assert first_started.wait(10)
    answers["two"] = second.resolve(proxy_event("/two", "bob"), None)
    second_resolved.set()
    thread.join(10)

    # THEN each read its own request and caller
    assert json.loads(answers["one"]["body"]) == {"path": "/one", "user": "ann"}
    assert json.loads(answers["two"]["body"]) == {"path": "/two", "user": "bob"}


def test_a_loggers_keys_stay_with_the_thread_that_set_them() -> None:
    # GIVEN two functions' Loggers of one service (they share one formatter)
    api, worker = logger("isolation"), logger("isolation")
    appended, logged = threading.Event(), threading.Event()
    out = io.StringIO()

    def other_function() -> None:
        worker.append_keys(org_id="org_other")
        appended.set()
        logged.wait(10)
        worker.info("other line")

    # WHEN one appends a key while the other logs, and the other clears its state
    with redirect_stdout(out):
        thread = threading.Thread(target=other_function)
        thread.start()
        assert appended.wait(10)
        api.append_keys(correlation_id="mine")
        api.info("my line")
        logged.set()
        thread.join(10)
        api.clear_state()
        api.info("after clearing")

    # THEN each line carries only its own thread's keys
    lines = {line["message"]: line for line in map(json.loads, out.getvalue().splitlines())}
    assert lines["my line"]["correlation_id"] == "mine"
    assert "org_id" not in lines["my line"]
    assert lines["other line"]["org_id"] == "org_other"
    assert "correlation_id" not in lines["other line"]
    assert "correlation_id" not in lines["after clearing"]
    assert {line["service"] for line in lines.values()} == {"isolation"}
