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

from infra.local.persistence import files, gate, pickling, store
from infra.local.persistence.files import (
    FORMAT,
    MAGIC,
    SNAPSHOT_NAME,
    Header,
    IncompatibleSnapshot,
    read_snapshot,
    remove_torn_temporaries,
    set_aside,
    write_snapshot,
)
from infra.local.persistence.gate import track_writes, writes_seen
from infra.local.persistence.pickling import FrozenWorker, dump_backends, load_backends
from infra.local.persistence.store import Store

__all__ = [
    "FORMAT",
    "MAGIC",
    "SNAPSHOT_NAME",
    "FrozenWorker",
    "Header",
    "IncompatibleSnapshot",
    "Store",
    "dump_backends",
    "files",
    "gate",
    "load_backends",
    "pickling",
    "read_snapshot",
    "remove_torn_temporaries",
    "set_aside",
    "store",
    "track_writes",
    "write_snapshot",
    "writes_seen",
]
