"""How many audited changes one org's chain holds per second, alone and with 50 writers racing.

On the emulator (moto, DynamoDB one call at a time), so the absolute figures are the emulator's: the
ratio between the two runs, the refusals (must be 0) and the DynamoDB calls per append are what
carry over. In AWS one round (Query + conditional write) costs two round trips, ~10-20 ms.
"""

from __future__ import annotations

import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from botocore.client import BaseClient
from moto import mock_aws

from functions.shared.dal import audit_store, dynamo
from functions.shared.dal.audit_store import AuditEntryModel, AuditUnavailable, DynamoAuditLog
from functions.shared.integrations import aws
from functions.shared.logic.audit_chain import verify
from functions.shared.models.audit import AuditDraft
from infra.local.patches import dynamodb as one_call_at_a_time

REGION = "us-east-1"


@dataclass
class AppendRun:
    writers: int
    appends: int
    refused: int
    seconds: float
    calls: int
    slowest_seconds: float
    median_seconds: float
    chain_ok: bool

    @property
    def per_second(self) -> float:
        return self.appends / self.seconds


@contextmanager
def _audit_table() -> Iterator[None]:
    # In-process moto, whatever an earlier part of the bench pointed the environment at.
    saved = dict(os.environ)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    try:
        with _mocked():
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def _mocked() -> Iterator[None]:
    one_call_at_a_time.patch()
    aws.session.cache_clear()
    aws.client.cache_clear()
    dynamo.connection.cache_clear()
    with mock_aws():
        audit_store.configure("bench-audit", REGION)
        AuditEntryModel.create_table(wait=True)
        yield
    dynamo.connection.cache_clear()


@contextmanager
def _counting_calls() -> Iterator[Counter[str]]:
    """Every botocore call in this process (only the bench's writers run here)."""
    calls: Counter[str] = Counter()
    lock = threading.Lock()
    original = BaseClient._make_api_call

    def counting(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            calls[operation] += 1
        return original(client, operation, params)

    BaseClient._make_api_call = counting  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def _draft(org_id: str, n: int) -> AuditDraft:
    return AuditDraft(
        org_id=org_id,
        actor=f"user:u{n}",
        actor_type="user",
        action="bench.append",
        target=f"thing:{n}",
        result="succeeded",
        source="bench",
        time=datetime.now(UTC),
    )


def _run(org_id: str, arrivals: list[float]) -> AppendRun:
    """One append per arrival time (seconds from the start), each by a writer of its own, as
    requests arriving at independent function containers would."""
    log = DynamoAuditLog()
    latencies: list[float] = []
    refused = [0]
    lock = threading.Lock()

    def writer(n: int, began: float) -> None:
        time.sleep(max(0.0, began + arrivals[n] - time.perf_counter()))
        arrived = time.perf_counter()
        try:
            log.record(_draft(org_id, n))
        except AuditUnavailable:
            with lock:
                refused[0] += 1
            return
        with lock:
            latencies.append(time.perf_counter() - arrived)

    with _counting_calls() as calls:
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(len(arrivals), 64)) as pool:
            list(pool.map(lambda n: writer(n, began), range(len(arrivals))))
        seconds = time.perf_counter() - began
    chain = list(log.entries(org_id))
    return AppendRun(
        writers=len(arrivals),
        appends=len(latencies),
        refused=refused[0],
        seconds=seconds,
        calls=sum(calls.values()),
        slowest_seconds=max(latencies),
        median_seconds=statistics.median(latencies),
        chain_ok=verify(chain).ok and len(chain) == len(arrivals),
    )


def _line(label: str, run: AppendRun) -> str:
    return (
        f"  {label:30s} {run.per_second:6.1f} appends/s  ({run.appends} in {run.seconds:5.2f} s, "
        f"refused {run.refused}, chain {'verifies' if run.chain_ok else 'BROKEN'}, "
        f"{run.calls / max(run.appends, 1):4.1f} DynamoDB calls/append, "
        f"median {run.median_seconds * 1000:5.0f} ms, slowest {run.slowest_seconds:5.2f} s)"
    )


def audit_throughput() -> None:
    print("Audit chain of one org (emulator: moto's DynamoDB serves one call at a time, so the figures")
    print("are the emulator's; refusals, calls per append and the ratios carry over)")
    with _audit_table():
        # One writer back to back: the most one org's chain takes when nobody races.
        sequential = _sequential("org_sequential", 200)
        burst = _run("org_burst", [0.0] * 50)
        print(_line("1 writer, back to back", sequential))
        print(_line("50 at once (a CI job's burst)", burst))
        held = 0.0
        for rate in (10, 20, 40, 80):
            run = _run(f"org_rate_{rate}", [i / rate for i in range(rate * 4)])
            print(_line(f"{rate}/s offered for 4 s", run))
            if run.refused == 0 and run.slowest_seconds < 2.0:
                held = float(rate)
    burst_ok = burst.refused == 0 and burst.slowest_seconds < 29 and burst.chain_ok
    print(
        f"  50 at once: {'met' if burst_ok else 'NOT met'} (goal: 0 refused, each under API Gateway's 29 s); "
        f"sustained: {held:.0f}/s held with 0 refused and every append under 2 s "
        f"({held / sequential.per_second:.2f}x the back-to-back rate)"
    )


def _sequential(org_id: str, appends: int) -> AppendRun:
    log = DynamoAuditLog()
    latencies = []
    with _counting_calls() as calls:
        began = time.perf_counter()
        for n in range(appends):
            t = time.perf_counter()
            log.record(_draft(org_id, n))
            latencies.append(time.perf_counter() - t)
        seconds = time.perf_counter() - began
    chain = list(log.entries(org_id))
    return AppendRun(
        writers=1,
        appends=appends,
        refused=0,
        seconds=seconds,
        calls=sum(calls.values()),
        slowest_seconds=max(latencies),
        median_seconds=statistics.median(latencies),
        chain_ok=verify(chain).ok and len(chain) == appends,
    )
