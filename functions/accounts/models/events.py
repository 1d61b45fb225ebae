"""Events the accounts domain publishes (source ``stackpilot.accounts``)."""

from __future__ import annotations

from typing import ClassVar

from functions.shared.models.events import DomainEvent


class AccountEvent(DomainEvent):
    SOURCE: ClassVar[str] = "stackpilot.accounts"

    connection_id: str
    aws_account_id: str
    region: str


class AccountConnected(AccountEvent):
    DETAIL_TYPE: ClassVar[str] = "AccountConnected"

    role_arn: str


class AccountConnectionFailed(AccountEvent):
    DETAIL_TYPE: ClassVar[str] = "AccountConnectionFailed"

    reason: str


class AccountDisconnected(AccountEvent):
    DETAIL_TYPE: ClassVar[str] = "AccountDisconnected"

    initiated_by: str  # "user:<id>" or "customer-stack"


class AccountUnhealthy(AccountEvent):
    """A connected account failed its scheduled re-check (role deleted, trust changed, ...)."""

    DETAIL_TYPE: ClassVar[str] = "AccountUnhealthy"

    reason: str


ACCOUNT_EVENTS: tuple[type[AccountEvent], ...] = (
    AccountConnected,
    AccountConnectionFailed,
    AccountDisconnected,
    AccountUnhealthy,
)
