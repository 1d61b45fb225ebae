"""Upgrading a connection: what the customer runs to update their onboarding stack to the latest
template (DESIGN.md workflow 3: "Older connections are told to update their onboarding stack").

The template is rendered like the quick-create one (same connection, same ExternalId) and stored
beside it, immutable; it carries a fresh single-use upgrade token whose hash the connection keeps.
The stack's Update sends the custom resource an Update request; the callback checks the token,
re-verifies the role (as on Create) and only then records the new version (callback.py, outcome.py).
Nothing here changes the connection's status or its claim on the account.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import quote

from functions.accounts.exceptions import ConnectionConflict, ConnectionNotFound
from functions.accounts.logic.connections import ConnectConfig, render_template
from functions.accounts.logic.nonce import hash_nonce, new_nonce
from functions.accounts.logic.ports import Clock, ConnectionRepository, TemplateStore
from functions.accounts.models.api import UpgradeInstructions
from functions.accounts.models.connection import ConnectionChanges, ConnectionStatus
from functions.shared.logic.auditing import RequestInfo, draft
from functions.shared.logic.customer_names import TEMPLATE_VERSION
from functions.shared.models.principal import Principal, Role, require_role

#: The onboarding stack's parameters: all kept as they are (the console keeps them too). The new
#: template's defaults change nothing a running stack uses: its token is a literal of the template.
STACK_PARAMETERS = ("ConnectionId", "EnableStatusForwarding", "ExternalId", "Nonce")


@dataclass(frozen=True)
class UpgradeDeps:
    connections: ConnectionRepository
    templates: TemplateStore
    clock: Clock
    config: ConnectConfig


def upgrade_connection(
    deps: UpgradeDeps, principal: Principal, connection_id: str, info: RequestInfo
) -> UpgradeInstructions:
    """409 unless the connection is CONNECTED on an older template. Asking again replaces the
    token: only the latest link's Update records the new version (an older one is refused)."""
    require_role(principal, Role.ADMIN, "upgrading an account connection")
    connection = deps.connections.get(principal.org_id, connection_id)
    if connection is None:  # another org's connection is indistinguishable from none
        raise ConnectionNotFound(f"connection {connection_id} not found")
    if connection.status is not ConnectionStatus.CONNECTED:
        raise ConnectionConflict(
            f"connection {connection_id} is {connection.status.value}: only a CONNECTED one can be "
            "upgraded (a new connection gets the latest template)"
        )
    if connection.template_version == TEMPLATE_VERSION:
        raise ConnectionConflict(
            f"connection {connection_id} already runs the latest onboarding template (v{TEMPLATE_VERSION})"
        )
    if not connection.stack_id:
        raise ConnectionConflict(f"connection {connection_id} has no known onboarding stack to update")
    cfg = deps.config
    now = deps.clock()
    token = new_nonce()
    expires_at = now + timedelta(seconds=cfg.connect_window_seconds)
    # Its own key per link (the token's hash names it): a template is never overwritten.
    template_key = (
        f"connections/{connection.org_id}/{connection_id}/role-v{TEMPLATE_VERSION}-"
        f"upgrade-{hash_nonce(token)[:16]}.json"
    )
    deps.templates.put(
        template_key,
        render_template(
            cfg,
            org_id=connection.org_id,
            connection_id=connection_id,
            external_id=connection.external_id,
            nonce=token,  # the stack keeps its own (burnt) nonce: the Update passes UsePreviousValue
            region=connection.region,
            upgrade_token=token,
        ),
    )
    if not deps.connections.transition(
        connection,
        ConnectionStatus.CONNECTED,
        allowed_from=(ConnectionStatus.CONNECTED,),
        audit=draft(
            principal,
            info,
            action="account.upgrade",
            target=f"connection:{connection_id}",
            time=now,
            reason=f"onboarding template v{connection.template_version} -> v{TEMPLATE_VERSION}",
        ),
        changes=ConnectionChanges(nonce_hash=hash_nonce(token), nonce_expires_at=expires_at, updated_at=now),
    ):
        raise ConnectionConflict(f"connection {connection_id} changed meanwhile; try again")
    template_url = deps.templates.presigned_url(template_key, cfg.connect_window_seconds)
    return UpgradeInstructions(
        connection_id=connection_id,
        template_version=connection.template_version,
        target_template_version=TEMPLATE_VERSION,
        stack_id=connection.stack_id,
        console_url=update_stack_url(connection.region, connection.stack_id, template_url),
        cli_command=update_stack_command(connection.region, connection.stack_id, template_url),
        template_url=template_url,
        expires_at=expires_at,
    )


def update_stack_url(region: str, stack_id: str, template_url: str) -> str:
    """The CloudFormation console's "update stack, replace the template" page for the stack."""
    query = "&".join(
        f"{k}={quote(v, safe='')}" for k, v in (("stackId", stack_id), ("templateURL", template_url))
    )
    return (
        f"https://console.aws.amazon.com/cloudformation/home?region={quote(region, safe='')}"
        f"#/stacks/update/template?{query}"
    )


def update_stack_command(region: str, stack_id: str, template_url: str) -> str:
    """The same update with the AWS CLI (every value shell-quoted)."""
    parameters = [f"ParameterKey={name},UsePreviousValue=true" for name in STACK_PARAMETERS]
    words = [
        "aws",
        "cloudformation",
        "update-stack",
        "--region",
        region,
        "--stack-name",
        stack_id,
        "--template-url",
        template_url,
        "--parameters",
        *parameters,
        "--capabilities",
        "CAPABILITY_NAMED_IAM",
    ]
    return shlex.join(words)
