"""The store: snapshots after writes (debounced) and on a clean stop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from infra.local.persistence.files import SNAPSHOT_NAME, Header, write_snapshot
from infra.local.persistence.gate import _closed_gate, writes_seen
from infra.local.persistence.pickling import dump_backends

LOG = logging.getLogger("infra.local.persistence")

# A snapshot waits this long for the requests in flight to finish, else tries again later.
GATE_TIMEOUT_SECONDS = 2.0

# A burst of writes is saved once it has been quiet this long, and at most this long after it began.
QUIET_SECONDS = 0.5
MAX_DELAY_SECONDS = 3.0


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
