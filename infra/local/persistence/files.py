"""The snapshot file: a checked header, then the pickle; written whole, then renamed."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import moto

# 2: the pickled classes moved into infra.local.persistence.pickling (a format-1 snapshot names
# them where they were, so it is set aside rather than unpickled).
FORMAT = 2
MAGIC = b"stackpilot-local-state\n"
SNAPSHOT_NAME = "world.pickle"


class IncompatibleSnapshot(Exception):
    """The snapshot was written by another moto version or schema, or is not a snapshot at all."""


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
