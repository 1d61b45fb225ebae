"""In-memory adapters for the accounts ports (each used by unit tests; see tests/unit/test_accounts_*)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from functions.accounts.exceptions import AccountClaimed
from functions.accounts.logic.response_url import check_response_url
from functions.accounts.models.connection import (
    LIVE_STATUSES,
    CallbackRequest,
    CallbackStatus,
    Connection,
    ConnectionChanges,
    ConnectionKey,
    ConnectionStatus,
)
from functions.shared.models.audit import AuditDraft
from functions.shared.models.events import DomainEvent


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


NO_CHANGES = ConnectionChanges()


@dataclass
class InMemoryConnections:
    """Connections and their claims, as the DynamoDB repository keeps them (one live connection per
    org, account and region; a transition into a live status takes the claim, out of one releases it)."""

    items: dict[tuple[str, str], Connection] = field(default_factory=dict)
    audited: list[AuditDraft] = field(default_factory=list)
    claims: dict[tuple[str, str, str], str] = field(default_factory=dict)

    @staticmethod
    def _claim(key: ConnectionKey) -> tuple[str, str, str]:
        return (key.org_id, key.aws_account_id, key.region)

    def create(self, connection: Connection, audit: AuditDraft | None = None) -> None:
        key = (connection.org_id, connection.connection_id)
        assert key not in self.items
        if connection.status in LIVE_STATUSES:
            holder = self.claims.get(self._claim(connection))
            if holder is not None:
                raise AccountClaimed(holder)
            self.claims[self._claim(connection)] = connection.connection_id
        self.items[key] = connection
        if audit is not None:
            self.audited.append(audit)

    def get(self, org_id: str, connection_id: str) -> Connection | None:
        return self.items.get((org_id, connection_id))

    def find_by_id(self, connection_id: str) -> Connection | None:
        return next((c for (_, cid), c in self.items.items() if cid == connection_id), None)

    def list_for_org(self, org_id: str) -> list[Connection]:
        return [c for (org, _), c in self.items.items() if org == org_id]

    def list_connected(self) -> list[Connection]:
        return [c for c in self.items.values() if c.status is ConnectionStatus.CONNECTED]

    def set_task_token(self, org_id: str, connection_id: str, task_token: str) -> bool:
        current = self.get(org_id, connection_id)
        if current is None or current.status is not ConnectionStatus.PENDING:
            return False
        self.items[(org_id, connection_id)] = current.model_copy(update={"task_token": task_token})
        return True

    def transition(
        self,
        connection: ConnectionKey,
        to: ConnectionStatus,
        *,
        allowed_from: Sequence[ConnectionStatus],
        changes: ConnectionChanges = NO_CHANGES,
        if_absent: ConnectionChanges = NO_CHANGES,
        audit: AuditDraft | None = None,
    ) -> bool:
        current = self.items.get((connection.org_id, connection.connection_id))
        if current is None or current.status not in allowed_from:
            return False
        claim = self._claim(current)
        holder = self.claims.get(claim)
        if to in LIVE_STATUSES:
            if holder not in (None, current.connection_id):
                raise AccountClaimed(holder)
            self.claims[claim] = current.connection_id
        elif holder == current.connection_id:
            del self.claims[claim]
        unset = {name: value for name, value in if_absent.given().items() if getattr(current, name) is None}
        self.items[(connection.org_id, connection.connection_id)] = current.changed(to, changes).model_copy(
            update=unset
        )
        if audit is not None:
            self.audited.append(audit)
        return True


@dataclass
class InMemoryCallbacks:
    items: dict[str, CallbackRequest] = field(default_factory=dict)

    def put_new(self, request: CallbackRequest) -> bool:
        if request.request_key in self.items:
            return False
        self.items[request.request_key] = request
        return True

    def get(self, request_key: str) -> CallbackRequest | None:
        return self.items.get(request_key)

    def set_status(self, request_key: str, status: CallbackStatus) -> None:
        self.items[request_key] = self.items[request_key].model_copy(update={"status": status})


@dataclass
class FakeTemplates:
    objects: dict[str, str] = field(default_factory=dict)

    def put(self, key: str, body: str, content_type: str = "application/json") -> None:
        self.objects[key] = body

    def presigned_url(self, key: str, expires_in: int) -> str:
        return f"https://bucket.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}&X-Amz-Signature=abc"


@dataclass
class FakeWorkflow:
    state_machine_arn: str = "arn:aws:states:us-east-1:123456789012:stateMachine:sm"
    started: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    resumed: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_start: bool = False
    waiting: bool = True  # whether a resumed task is still waiting

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if self.fail_start:
            raise RuntimeError("StartExecution failed")
        self.started.append((name, payload))
        return self.execution_arn(name)

    def execution_arn(self, name: str) -> str:
        return f"{self.state_machine_arn.replace(':stateMachine:', ':execution:')}:{name}"

    def stop(self, execution_arn: str, cause: str) -> None:
        self.stopped.append(execution_arn)

    def resume(self, task_token: str, output: dict[str, Any]) -> bool:
        # A token resumes its task once, as Step Functions has it (then: TaskTimedOut, i.e. False).
        if not self.waiting or any(token == task_token for token, _ in self.resumed):
            return False
        self.resumed.append((task_token, output))
        return True


@dataclass
class RecordingEvents:
    published: list[DomainEvent] = field(default_factory=list)

    def publish(self, events: Sequence[DomainEvent]) -> None:
        self.published.extend(events)

    def types(self) -> list[str]:
        return [e.DETAIL_TYPE for e in self.published]


@dataclass
class FakeRoleProbe:
    """A customer's role: which ExternalId (if any) its trust policy demands, and its account."""

    account: str
    external_id: str | None  # None: the trust policy lacks the condition
    propagation_failures: int = 0  # refusals before IAM "propagates"
    calls: list[tuple[str, str | None]] = field(default_factory=list)

    def assume(self, role_arn: str, external_id: str | None, session_name: str) -> str | None:
        self.calls.append((role_arn, external_id))
        if self.propagation_failures > 0:
            self.propagation_failures -= 1
            return None
        if self.external_id is None or self.external_id == external_id:
            return self.account
        return None


@dataclass
class RecordingResponder:
    """Applies the real allowlist, then records instead of sending."""

    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def send(self, response_url: str, region: str, body: dict[str, Any]) -> None:
        check_response_url(response_url, region=region)
        self.sent.append((response_url, body))
