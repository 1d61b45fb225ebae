"""Pickling moto's backends: what does not pickle as is is rebuilt on load (see the package)."""

from __future__ import annotations

import copy
import copyreg
import io
import logging
import pickle
import sys
import threading
import uuid
import weakref
from collections import defaultdict
from typing import Any

LOG = logging.getLogger("infra.local.persistence")


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
