"""Writes in flight: every request to the emulator passes the gate; a snapshot closes it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from infra.local.patches._machinery import _call_original, _replace

_READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "Head", "Receive", "Search")
_READ_ACTIONS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "Invoke", "TestStateMachine"})


@dataclass
class _Gate:
    cond: threading.Condition = field(default_factory=threading.Condition)
    in_flight: int = 0
    closed: bool = False
    writes: int = 0  # requests that may have changed something, since the process started
    owner: int | None = None  # the thread taking a snapshot (its own requests would wait on itself)


_gate = _Gate()


def writes_seen() -> int:
    return _gate.writes


def _is_invocation(method: str, url: str) -> bool:
    return method == "POST" and "/invocations" in url


@contextmanager
def _request(write: bool, invocation: bool = False) -> Iterator[None]:
    """A Lambda invocation runs a handler whose own requests pass the gate one by one: were the
    invocation to hold a place in it, a snapshot waiting for it would hold back the very requests
    it waits on. It changes nothing itself, so it passes freely."""
    if invocation:
        yield
        return
    me = threading.get_ident()
    with _gate.cond:
        while _gate.closed and _gate.owner != me:
            _gate.cond.wait()
        _gate.in_flight += 1
    try:
        yield
    finally:
        with _gate.cond:
            _gate.in_flight -= 1
            if write:
                _gate.writes += 1
            _gate.cond.notify_all()


@contextmanager
def _closed_gate(timeout: float) -> Iterator[bool]:
    """Holds new requests back and waits for those in flight; yields False if they did not finish
    in time (the caller tries again later; a handler blocked on a nested call never deadlocks it)."""
    with _gate.cond:
        _gate.closed, _gate.owner = True, threading.get_ident()
        quiet = _gate.cond.wait_for(lambda: _gate.in_flight == 0, timeout=timeout)
    try:
        yield quiet
    finally:
        with _gate.cond:
            _gate.closed, _gate.owner = False, None
            _gate.cond.notify_all()


def _is_write(method: str, target: str | None, body: bytes | str | None, query: str) -> bool:
    """What may change the emulator's state. JSON protocols name the action in X-Amz-Target, query
    protocols in the form body or the query string; REST reads are GET/HEAD. Erring towards "write"
    only costs an extra snapshot."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return False
    action = target.rpartition(".")[2] if target else None
    if action is None:
        form = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        for source in (form or "", query):
            values = parse_qs(source).get("Action")
            if values:
                action = values[0]
                break
    if action is None:
        return method != "POST" or "/invocations" not in query
    return not (action.startswith(_READ_PREFIXES) or action in _READ_ACTIONS)


def _stubber_process_request(self: Any, request: Any) -> Any:
    """In-process mode: every boto3 call goes through moto's BotocoreStubber."""
    from moto.core.botocore_stubber import BotocoreStubber

    target = request.headers.get("X-Amz-Target")
    body = request.body if isinstance(request.body, bytes | str) else None  # not a stream
    url = str(request.url)
    write = _is_write(request.method, target.decode() if isinstance(target, bytes) else target, body, url)
    with _request(write, _is_invocation(request.method, url)):
        return _call_original(BotocoreStubber, "process_request", self, request)


def _dispatcher_call(self: Any, environ: dict[str, Any], start_response: Any) -> Any:
    """Server mode: every request goes through moto's DomainDispatcherApplication."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    method = environ.get("REQUEST_METHOD", "GET")
    body = self._get_body(environ) if method == "POST" else None  # re-wraps wsgi.input
    path = f"{environ.get('PATH_INFO', '')}?{environ.get('QUERY_STRING', '')}"
    write = _is_write(method, environ.get("HTTP_X_AMZ_TARGET"), body, path)
    with _request(write, _is_invocation(method, path)):
        return _call_original(DomainDispatcherApplication, "__call__", self, environ, start_response)


def track_writes() -> None:
    """Count the requests that may change state, and let a snapshot wait for those in flight."""
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication

    _replace(BotocoreStubber, "process_request", _stubber_process_request, "persistence write tracking")
    _replace(DomainDispatcherApplication, "__call__", _dispatcher_call, "persistence write tracking")
