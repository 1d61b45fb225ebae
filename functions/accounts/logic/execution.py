"""A connection's connect_account execution: its name and what it starts with. Both the API (when
a connection is made) and the callback (when it finds nobody waiting) start it, by the same name."""

from __future__ import annotations

from functions.accounts.models.connection import Connection


def execution_name(connection_id: str) -> str:
    return connection_id


def workflow_input(connection: Connection, window_seconds: int) -> dict[str, object]:
    """What a connection's connect_account execution starts with (ConnectAccountInput): ids, and the
    account and region, so its steps change the connection without reading it first."""
    return {
        "org_id": connection.org_id,
        "connection_id": connection.connection_id,
        "aws_account_id": connection.aws_account_id,
        "region": connection.region,
        "connect_window_seconds": window_seconds,
    }
