"""Proving that a customer's role is ours to use, and only ours."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from functions.accounts.exceptions import (
    ConnectionClosed,
    ConnectionNotFound,
    RoleAccountMismatch,
    RoleNotAssumableYet,
    RoleTrustTooBroad,
)
from functions.accounts.logic.callback import ROLE_ARN
from functions.accounts.logic.ports import ConnectionRepository, RoleProbe
from functions.accounts.models.connection import Connection, ConnectionStatus


@dataclass(frozen=True)
class VerifyDeps:
    connections: ConnectionRepository
    probe: RoleProbe


def register_waiter(connections: ConnectionRepository, org_id: str, connection_id: str, token: str) -> None:
    """Keeps the waiting execution's task token where the customer's callback finds it; a connection
    no longer pending (disconnected, expired) ends the wait with that reason."""
    if not connections.set_task_token(org_id, connection_id, token):
        raise ConnectionClosed("the connection is no longer pending")


def verify_role(deps: VerifyDeps, org_id: str, connection_id: str, role_arn: str | None) -> str:
    """Returns the verified account id, or raises a ConnectionRejected whose message is the reason."""
    connection = deps.connections.get(org_id, connection_id)
    if connection is None:
        raise ConnectionNotFound(f"connection {connection_id} not found")
    if connection.status is ConnectionStatus.DISCONNECTED:
        raise ConnectionClosed("the connection was disconnected while it was being verified")
    return probe_role(deps.probe, connection, role_arn or connection.role_arn)


def probe_role(probe: RoleProbe, connection: Connection, role_arn: str | None) -> str:
    """Assume the role with the connection's ExternalId, then check that nothing less gets in."""
    match = ROLE_ARN.match(role_arn or "")
    if role_arn is None or match is None or match.group(1) != connection.aws_account_id:
        raise RoleAccountMismatch(f"the role must be an IAM role in account {connection.aws_account_id}")

    # The session name carries the org, so the customer's CloudTrail shows who acted.
    session = f"stackpilot-{connection.org_id}"[:64]
    account = probe.assume(role_arn, connection.external_id, session)
    if account is None:
        raise RoleNotAssumableYet(
            f"could not assume {role_arn} with this connection's ExternalId; "
            "check that the role stack finished and its trust policy was not changed"
        )
    if account != connection.aws_account_id:
        raise RoleAccountMismatch(f"the role answered as account {account}, not {connection.aws_account_id}")

    # Negative probes: a role that lets us in without the ExternalId would let any other
    # customer of ours in too (the confused deputy), so it is refused.
    if probe.assume(role_arn, None, session) is not None:
        raise RoleTrustTooBroad("role does not require ExternalId")
    if probe.assume(role_arn, "wrong-" + secrets.token_urlsafe(24), session) is not None:
        raise RoleTrustTooBroad("role accepts an ExternalId other than this connection's")
    return account
