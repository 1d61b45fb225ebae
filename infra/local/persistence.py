"""The local cloud's state on disk: every moto backend pickled into one snapshot file under the state
directory, restored on the next start (``infra/local/README.md``, "State across restarts").

moto has no persistence of its own. Its state is plain Python objects in one ``BackendDict`` per
service (account -> region -> backend), and nearly all of it pickles as is; what does not is rebuilt
on load by the reducers of ``_Pickler``: locks (fresh ones), weak-value dictionaries, defaultdicts
whose factory is a lambda, cryptography keys (DER bytes) and Step Functions executions (their history,
without the interpreter and its threads). All backends go into ONE pickle so objects shared between
services (a CloudFormation stack's IAM role is the IAM backend's role) stay shared.

A snapshot is written whole to a temporary file, fsynced, then renamed over the previous one: a
process killed mid-write leaves the previous snapshot in place, and a torn temporary file is never
read. A header (format, moto version, a fingerprint of the tables and resources the local cloud
bootstraps, the payload's length and sha256) is checked before anything is unpickled: a snapshot from
another moto or schema is moved aside, never loaded.
"""

from __future__ import annotations

import copy
import copyreg
import hashlib
import io
import json
import logging
import os
import pickle
import sys
import threading
import time
import uuid
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import moto

from infra.local.patches._machinery import _call_original, _replace

LOG = logging.getLogger(__name__)

FORMAT = 1
MAGIC = b"stackpilot-local-state\n"
SNAPSHOT_NAME = "world.pickle"
# A burst of writes is saved once it has been quiet this long, and at most this long after it began.
QUIET_SECONDS = 0.5
MAX_DELAY_SECONDS = 3.0
# A snapshot waits this long for the requests in flight to finish, else tries again later.
GATE_TIMEOUT_SECONDS = 2.0

_READ_PREFIXES = ("Get", "Describe", "List", "Query", "Scan", "BatchGet", "Head", "Receive", "Search")
_READ_ACTIONS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "Invoke", "TestStateMachine"})


class IncompatibleSnapshot(Exception):
    """The snapshot was written by another moto version or schema, or is not a snapshot at all."""


# --------------------------------------------------------------------------------------------------
# Writes in flight: every request to the emulator passes the gate; a snapshot closes it
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Pickling moto's backends
# --------------------------------------------------------------------------------------------------


def _backend_dicts() -> dict[str, Any]:
    """Every BackendDict in use, by "module:attribute" (where it is found again on load)."""
    from moto.core.base_backend import BackendDict

    found: dict[str, Any] = {}
    instances: list[Any] = BackendDict._instances  # type: ignore[misc]  # moto's registry
    for backend_dict in list(instances):
        module = sys.modules[backend_dict.backend.__module__]
        name = next((n for n, v in vars(module).items() if v is backend_dict), None)
        if name is None:  # e.g. a backend class defined in one module, its dict in models.py
            package = backend_dict.backend.__module__.rpartition(".")[0]
            for candidate in (f"{package}.models", package):
                module = sys.modules.get(candidate) or module
                name = next((n for n, v in vars(module).items() if v is backend_dict), None)
                if name:
                    break
        if name is None:
            LOG.warning("backend of %s not found in its module: not persisted", backend_dict.service_name)
            continue
        found[f"{module.__name__}:{name}"] = backend_dict
    return found


def _backend_dict(key: str) -> Any:
    import importlib

    module_name, _, name = key.partition(":")
    return getattr(importlib.import_module(module_name), name)


# Rebuilders: module-level, so the pickle names them.


def _weak_values(items: dict[Any, Any]) -> weakref.WeakValueDictionary[Any, Any]:
    return weakref.WeakValueDictionary(items)


class _FreshCopy:
    """A defaultdict factory that hands out a deep copy of an empty prototype (stands in for the
    lambdas moto uses as factories, e.g. ``defaultdict(lambda: defaultdict(dict))``)."""

    def __init__(self, prototype: Any) -> None:
        self.prototype = prototype

    def __call__(self) -> Any:
        return copy.deepcopy(self.prototype)


def _defaultdict(kind: Any, factory: Any, items: dict[Any, Any], state: dict[str, Any]) -> Any:
    """A defaultdict or a subclass of it (whose __init__ may take other arguments, e.g. SSM's
    ParameterDict): built without calling that __init__."""
    obj = kind.__new__(kind)
    defaultdict.__init__(obj, factory)
    obj.update(items)
    if state:
        obj.__dict__.update(state)
    return obj


def _without_public_parameters(
    items: dict[str, Any], state: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """SSM's public parameters (``/aws/service/...``, moto's AMI ids and the like, about 1.7 MB per
    account) are moto's own data, loaded again on first use: left out, with their "loaded" flags
    cleared. Nobody else can write under ``/aws/``."""
    kept = {k: v for k, v in items.items() if not str(k).startswith("/aws/service/")}
    flags = {k: False for k in state if k.startswith("latest_") and k.endswith("_loaded")}
    return kept, {**state, **flags}


def _private_key(der: bytes) -> Any:
    from cryptography.hazmat.primitives.serialization import load_der_private_key

    return load_der_private_key(der, password=None)


class _FrozenHistory:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    def get_event_history(self) -> list[dict[str, Any]]:
        return copy.deepcopy(self.events)


class _NoCallbacks:
    """A restored execution waits on no task token until it is redriven (SendTaskSuccess and the
    like then answer as for an unknown token)."""

    def notify(self, callback_id: str, outcome: Any) -> bool:
        return False

    def heartbeat(self, callback_id: str) -> bool:
        return False


class _FrozenEnv:
    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.event_manager = _FrozenHistory(events)
        self.callback_pool_manager = _NoCallbacks()


class FrozenWorker:
    """What a Step Functions execution keeps across a restart: its history, no interpreter."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.env = _FrozenEnv(events)

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.env.event_manager.events

    def stop(self, stop_date: Any, error: str | None, cause: str | None) -> None:
        """Nothing runs: a stop only changes the status (the patched Execution.stop)."""


def _execution_state(execution: Any) -> dict[str, Any]:
    state = dict(vars(execution))
    try:
        events = list(execution.to_history_output()["events"]) if execution.exec_worker else []
    except Exception:  # a worker that has not built its environment yet
        events = []
    state["exec_worker"] = FrozenWorker(events)
    state.pop("stackpilot_earlier_history", None)  # merged into the events above
    return state


def _restore_object(cls: Any, state: dict[str, Any]) -> Any:
    obj = cls.__new__(cls)
    obj.__dict__.update(state)
    return obj


class _Pickler(pickle.Pickler):
    def __init__(self, file: Any, backend_dicts: dict[str, Any]) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._ids = {id(v): k for k, v in backend_dicts.items()}
        # Lock types are not importable by name: the factories are.
        self._locks = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}
        from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
        from moto.stepfunctions.parser.backend.execution import Execution

        self._key_types = (
            rsa.RSAPrivateKey,
            ec.EllipticCurvePrivateKey,
            dsa.DSAPrivateKey,
            ed25519.Ed25519PrivateKey,
            ed448.Ed448PrivateKey,
        )
        self._execution = Execution
        from moto.ssm.models import ParameterDict

        self._ssm_parameters = ParameterDict

    def persistent_id(self, obj: Any) -> Any:
        # A model holding a whole BackendDict refers to the live one on load, not a copy.
        key = self._ids.get(id(obj))
        return ("backend_dict", key) if key is not None else None

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if kind in self._locks:
            return (self._locks[kind], ())
        if kind is threading.Thread or isinstance(obj, threading.Thread):
            return (_no_thread, ())
        if kind is weakref.WeakValueDictionary:
            return (_weak_values, (dict(obj.items()),))
        if isinstance(obj, defaultdict):
            factory = obj.default_factory
            if getattr(factory, "__name__", "") == "<lambda>":
                factory = _FreshCopy(factory())
            items, state = dict(obj), dict(getattr(obj, "__dict__", {}))
            if kind is self._ssm_parameters:
                items, state = _without_public_parameters(items, state)
            return (_defaultdict, (kind, factory, items, state))
        if isinstance(obj, self._key_types):
            from cryptography.hazmat.primitives import serialization

            der = obj.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            return (_private_key, (der,))
        if isinstance(obj, self._execution):
            return (_restore_object, (kind, _execution_state(obj)))
        return NotImplemented


def _no_thread() -> None:
    return None


class _Unpickler(pickle.Unpickler):
    def persistent_load(self, pid: Any) -> Any:
        kind, key = pid
        if kind != "backend_dict":
            raise pickle.UnpicklingError(f"unknown persistent id {pid!r}")
        return _backend_dict(key)


_BACKEND_DICT_OWN = frozenset({"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"})


def dump_backends() -> bytes:
    """Every backend of every account and region, one pickle (callers hold the gate)."""
    backend_dicts = _backend_dicts()
    world = {
        key: (
            {
                account: (list(regions.regions), dict(regions.items()))
                for account, regions in backend_dict.items()
            },
            # What a BackendDict subclass keeps beside its accounts (S3's bucket name -> account).
            {k: v for k, v in vars(backend_dict).items() if k not in _BACKEND_DICT_OWN},
        )
        for key, backend_dict in backend_dicts.items()
    }
    buffer = io.BytesIO()
    _Pickler(buffer, backend_dicts).dump(world)
    return buffer.getvalue()


def load_backends(payload: bytes) -> None:
    """Replaces the contents of every BackendDict by the snapshot's (the dicts stay the same objects:
    moto's getters and the patches hold them)."""
    from moto.core.base_backend import AccountSpecificBackend, BackendDict

    world = _Unpickler(io.BytesIO(payload)).load()
    BackendDict.reset()
    instances: list[Any] = BackendDict._instances  # type: ignore[misc]  # moto's registry
    for key, (accounts, extras) in world.items():
        backend_dict = _backend_dict(key)
        vars(backend_dict).update(extras)
        for account, (known_regions, regions) in accounts.items():
            # As BackendDict._create_account_specific_backend does, with the regions it had listed
            # (listing them again loads botocore's service models: seconds).
            account_backend = AccountSpecificBackend.__new__(AccountSpecificBackend)
            account_backend._id = str(uuid.uuid4())
            account_backend.service_name, account_backend.account_id = backend_dict.service_name, account
            account_backend.backend, account_backend.regions = backend_dict.backend, known_regions
            for region, backend in regions.items():
                dict.__setitem__(account_backend, region, backend)
            dict.__setitem__(backend_dict, account, account_backend)
        if backend_dict not in instances:
            instances.append(backend_dict)


copyreg.pickle(threading.Condition, lambda c: (threading.Condition, ()))
copyreg.pickle(threading.Event, lambda e: (_event, (e.is_set(),)))


def _event(is_set: bool) -> threading.Event:
    event = threading.Event()
    if is_set:
        event.set()
    return event


# --------------------------------------------------------------------------------------------------
# The snapshot file
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    format: int
    moto: str
    fingerprint: str
    saved_at: str
    length: int
    sha256: str
    counts: dict[str, int]

    @property
    def saved_at_local(self) -> str:
        return datetime.fromisoformat(self.saved_at).astimezone().strftime("%H:%M:%S")


def write_snapshot(path: Path, payload: bytes, fingerprint: str, counts: dict[str, int]) -> Header:
    """Atomically: a temporary file in the same directory, fsynced, renamed over the snapshot, the
    directory fsynced. A crash at any point leaves either the old snapshot or the new one."""
    header = Header(
        format=FORMAT,
        moto=moto.__version__,
        fingerprint=fingerprint,
        saved_at=datetime.now(UTC).isoformat(),
        length=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        counts=counts,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    # Owner-only, as the issuer's key: the world holds the API-key pepper, KMS keys, secret values.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(MAGIC)
        out.write(json.dumps(header.__dict__).encode() + b"\n")
        out.write(payload)
        out.flush()
        os.fsync(out.fileno())
    temporary.replace(path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return header


def read_snapshot(path: Path, fingerprint: str) -> tuple[Header, bytes]:
    """The header and payload, checked; IncompatibleSnapshot says why not."""
    with path.open("rb") as source:
        if source.read(len(MAGIC)) != MAGIC:
            raise IncompatibleSnapshot("not a stackpilot snapshot")
        try:
            header = Header(**json.loads(source.readline()))
        except (ValueError, TypeError) as exc:
            raise IncompatibleSnapshot(f"unreadable header ({exc})") from None
        if header.format != FORMAT:
            raise IncompatibleSnapshot(f"snapshot format {header.format}, this version reads {FORMAT}")
        if header.moto != moto.__version__:
            raise IncompatibleSnapshot(f"written by moto {header.moto}, this is moto {moto.__version__}")
        if header.fingerprint != fingerprint:
            raise IncompatibleSnapshot("written for other tables or resources (the definitions changed)")
        payload = source.read()
    if len(payload) != header.length or hashlib.sha256(payload).hexdigest() != header.sha256:
        raise IncompatibleSnapshot("the payload is truncated or damaged")
    return header, payload


def set_aside(path: Path, why: str = "unusable") -> Path:
    """Keeps a snapshot that will not be restored (unusable, or left by --fresh: "previous") out of
    the way of the next one, for inspection or to copy back."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.{why}-{stamp}")
    path.replace(target)
    return target


def remove_torn_temporaries(directory: Path) -> list[Path]:
    """Temporary files of a process killed mid-write: never read, removed."""
    torn = list(directory.glob(f".{SNAPSHOT_NAME}.*.tmp")) if directory.is_dir() else []
    for file in torn:
        file.unlink(missing_ok=True)
    return torn


# --------------------------------------------------------------------------------------------------
# The store: snapshots after writes (debounced) and on a clean stop
# --------------------------------------------------------------------------------------------------


@dataclass
class Store:
    directory: Path
    fingerprint: str
    counts: Callable[[], dict[str, int]]
    # Grows with every change: the requests that may write, plus the progress of background work that
    # changes state without a request (executions' histories, stack operations' events).
    version: Callable[[], int] = writes_seen
    saved_version: int = -1
    last_header: Header | None = None
    saves: int = 0  # snapshots written, and the time they took (pickling + writing)
    save_seconds: float = 0.0
    _thread: threading.Thread | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def path(self) -> Path:
        return self.directory / SNAPSHOT_NAME

    def save(self) -> Header | None:
        """One snapshot now; None if requests in flight did not finish in time or moto's state changed
        under the pickler (the next round tries again)."""
        with self._lock:
            version = self.version()
            started = time.perf_counter()
            with _closed_gate(GATE_TIMEOUT_SECONDS) as quiet:
                if not quiet:
                    return None
                try:
                    payload = dump_backends()
                    counts = self.counts()
                except RuntimeError as exc:  # "dictionary changed size during iteration" (a thread)
                    LOG.info("snapshot deferred: %s", exc)
                    return None
            header = write_snapshot(self.path, payload, self.fingerprint, counts)
            self.saved_version, self.last_header = version, header
            self.saves += 1
            self.save_seconds += time.perf_counter() - started
            LOG.debug("snapshot %d bytes in %.2f s", len(payload), time.perf_counter() - started)
            return header

    def start(self) -> None:
        self.saved_version = self.version()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="stackpilot-persistence", daemon=True)
        self._thread.start()

    def stop(self) -> Header | None:
        """Stops saving in the background and takes the last snapshot (a clean shutdown)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        for _ in range(5):
            try:
                header = self.save()
            except Exception:  # a shutdown goes on whatever happens here; the previous one stays
                LOG.exception("the last snapshot failed")
                header = None
            if header is not None:
                return header
            time.sleep(0.2)
        LOG.warning("the last snapshot could not be taken: the previous one stays")
        return None

    def _run(self) -> None:
        first_dirty: float | None = None
        last_seen = self.version()
        last_change = time.monotonic()
        while not self._stop.wait(0.2):
            now, seen = time.monotonic(), self.version()
            if seen != last_seen:
                last_seen, last_change = seen, now
            if seen == self.saved_version:
                first_dirty = None
                continue
            first_dirty = first_dirty or now
            if now - last_change >= QUIET_SECONDS or now - first_dirty >= MAX_DELAY_SECONDS:
                try:
                    if self.save() is not None:
                        first_dirty = None
                except Exception:
                    LOG.exception("snapshot failed: the previous one stays")
