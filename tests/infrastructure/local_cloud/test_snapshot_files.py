"""The snapshot file (infra/local/persistence/files.py): written atomically, checked before it is read, and
moto's unpicklable parts rebuilt on load. No local cloud needed."""

from __future__ import annotations

import io
import os
import threading
import weakref
from collections import defaultdict
from pathlib import Path

import pytest

from infra.local import persistence

FINGERPRINT = "f" * 64


def test_a_snapshot_reads_back_what_was_written(tmp_path: Path) -> None:
    path = tmp_path / persistence.SNAPSHOT_NAME
    written = persistence.write_snapshot(path, b"payload", FINGERPRINT, {"orgs": 3})
    header, payload = persistence.read_snapshot(path, FINGERPRINT)
    assert (header, payload) == (written, b"payload")
    assert header.counts == {"orgs": 3}
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    assert path.stat().st_mode & 0o777 == 0o600  # it holds keys and secret values


def test_a_write_that_dies_before_the_rename_leaves_the_previous_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a good snapshot
    path = tmp_path / persistence.SNAPSHOT_NAME
    persistence.write_snapshot(path, b"good", FINGERPRINT, {})

    # WHEN the next write dies after writing its bytes, before they are durable and renamed
    def killed(fd: int) -> None:
        raise OSError("killed")

    monkeypatch.setattr(os, "fsync", killed)
    with pytest.raises(OSError, match="killed"):
        persistence.write_snapshot(path, b"new but torn", FINGERPRINT, {})
    monkeypatch.undo()
    # THEN the good one is what reads back, and the torn temporary file is removed on the next start
    assert persistence.read_snapshot(path, FINGERPRINT)[1] == b"good"
    torn = persistence.remove_torn_temporaries(tmp_path)
    assert len(torn) == 1 and list(tmp_path.iterdir()) == [path]


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda raw: raw[:-3], "truncated or damaged"),
        (lambda raw: raw[:-3] + b"xyz", "truncated or damaged"),
        (lambda raw: raw.replace(b'"moto": "5.2.5"', b'"moto": "5.0.0"'), "written by moto 5.0.0"),
        (
            lambda raw: raw.replace(b'"format": %d' % persistence.FORMAT, b'"format": 99'),
            "snapshot format 99",
        ),
        (lambda raw: b"something else entirely", "not a stackpilot snapshot"),
        (lambda raw: persistence.MAGIC + b"{not json\n", "unreadable header"),
    ],
)
def test_a_damaged_or_foreign_snapshot_is_refused_with_the_reason(
    tmp_path: Path, damage: object, reason: str
) -> None:
    path = tmp_path / persistence.SNAPSHOT_NAME
    persistence.write_snapshot(path, b"0123456789", FINGERPRINT, {})
    path.write_bytes(damage(path.read_bytes()))  # type: ignore[operator]
    with pytest.raises(persistence.IncompatibleSnapshot, match=reason):
        persistence.read_snapshot(path, FINGERPRINT)


def test_a_snapshot_of_other_tables_is_refused(tmp_path: Path) -> None:
    path = tmp_path / persistence.SNAPSHOT_NAME
    persistence.write_snapshot(path, b"x", FINGERPRINT, {})
    with pytest.raises(persistence.IncompatibleSnapshot, match="definitions changed"):
        persistence.read_snapshot(path, "0" * 64)


def test_set_aside_keeps_the_file_out_of_the_way(tmp_path: Path) -> None:
    path = tmp_path / persistence.SNAPSHOT_NAME
    path.write_bytes(b"old")
    aside = persistence.set_aside(path)
    assert not path.exists() and aside.read_bytes() == b"old" and aside.name.startswith(path.name)


class _Model:
    """Shaped like the moto objects that do not pickle as they are."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.plain_lock = threading.Lock()
        self.event = threading.Event()
        self.event.set()
        self.tags: defaultdict[str, defaultdict[str, dict[str, str]]] = defaultdict(lambda: defaultdict(dict))
        self.tags["a"]["b"]["c"] = "d"
        self.children = [_Child("one")]
        self.by_name: weakref.WeakValueDictionary[str, _Child] = weakref.WeakValueDictionary(
            {"one": self.children[0]}
        )


class _Child:
    def __init__(self, name: str) -> None:
        self.name = name


def test_locks_lambdas_and_weak_references_are_rebuilt_on_load() -> None:
    buffer = io.BytesIO()
    persistence.pickling._Pickler(buffer, {}).dump(_Model())
    model = persistence.pickling._Unpickler(io.BytesIO(buffer.getvalue())).load()
    with model.lock, model.plain_lock:  # working locks, fresh
        pass
    assert model.event.is_set()
    assert model.tags["a"]["b"] == {"c": "d"} and model.tags["new"]["x"] == {}  # the factory works
    assert model.by_name["one"] is model.children[0]  # shared, not copied


def test_what_may_write_is_told_from_the_request() -> None:
    assert persistence.gate._is_write("POST", "DynamoDB_20120810.PutItem", None, "")
    assert not persistence.gate._is_write("POST", "DynamoDB_20120810.GetItem", None, "")
    assert not persistence.gate._is_write("POST", None, "Action=DescribeStacks&Version=1", "")
    assert persistence.gate._is_write("POST", None, "Action=CreateStack&Version=1", "")
    assert not persistence.gate._is_write("GET", None, None, "/2015-03-31/functions")
    assert persistence.gate._is_write("PUT", None, None, "/bucket/key")
    assert not persistence.gate._is_write("POST", None, None, "/2015-03-31/functions/f/invocations")
