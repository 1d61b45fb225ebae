"""Linking a GitHub App installation to an org (DESIGN.md workflow 3, "Linking a git host").

``POST /git/github/install`` (admin+) answers the App's install URL with a signed, single-use
``state`` bound to the org and the user, valid 10 minutes. GitHub sends the browser back to the setup
URL with ``installation_id``, ``code`` and ``state``. The ``installation_id`` there can be forged, so
the link is made only after the state checks out (signature, expiry, first use), the ``code`` is
exchanged for the user's token, and that user's installations include ``installation_id``. One
installation belongs to one org.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final
from urllib.parse import urlencode

from functions.releases.exceptions import InstallationTaken, InstallRefused
from functions.releases.logic.ports import DeliveryLog, GitHubUser, InstallStates, LinkStore
from functions.releases.models.linking import InstallIntent, InstallStart
from functions.releases.models.routing import InstallationLink
from functions.shared.logic.auditing import RequestInfo, draft
from functions.shared.logic.ports import AuditLog
from functions.shared.models.principal import Principal, Role, require_role, require_user

STATE_VALID: Final = timedelta(minutes=10)
_START_AGAIN: Final = "start again from POST /git/github/install"


@dataclass(frozen=True)
class InstallDeps:
    states: InstallStates
    install_url: str  # the App's page: https://github.com/apps/<slug>/installations/new
    new_nonce: Callable[[], str] = lambda: secrets.token_urlsafe(24)


@dataclass(frozen=True)
class SetupDeps:
    states: InstallStates
    used: DeliveryLog  # a redeemed state's nonce is claimed there, once
    github: GitHubUser
    links: LinkStore
    audit: AuditLog  # the refusals, once the state names the org


def begin_install(deps: InstallDeps, principal: Principal, now: datetime) -> InstallStart:
    require_role(principal, Role.ADMIN, "linking GitHub")
    require_user(principal, "linking GitHub")  # GitHub asks a person to install; a key cannot
    intent = InstallIntent(
        org_id=principal.org_id,
        user_id=principal.user_id,
        nonce=deps.new_nonce(),
        expires_at=now + STATE_VALID,
    )
    url = f"{deps.install_url}?{urlencode({'state': deps.states.issue(intent)})}"
    return InstallStart(install_url=url, expires_at=intent.expires_at)


def complete_install(
    deps: SetupDeps, installation_id: int, code: str, state: str, request: RequestInfo, now: datetime
) -> InstallationLink:
    """Raises ``InstallRefused`` (nothing linked) or ``InstallationTaken``; a refusal for a state we
    issued is audited in its org, as its user's."""
    intent = deps.states.read(state, now)
    if intent is None:  # no org to record it in: the handler logs it
        raise InstallRefused(f"the install link is not one we issued, or it expired: {_START_AGAIN}")
    actor = Principal(org_id=intent.org_id, role=Role.ADMIN, user_id=intent.user_id)
    target = f"gh_{installation_id}"
    try:
        if not deps.used.claim(f"install-{intent.nonce}", "install-state", now):
            raise InstallRefused(f"the install link was used already: {_START_AGAIN}")
        visible = deps.github.installations(code)
        if installation_id not in visible:
            raise InstallRefused(f"installation {installation_id} is not one your GitHub account can access")
        link = InstallationLink(link_id=target, org_id=intent.org_id, installation_id=installation_id)
        audit = draft(actor, request, action="git.link", target=target, time=now)
        return deps.links.link(link, visible[installation_id], audit)
    except (InstallRefused, InstallationTaken) as refused:
        reason = str(refused)
        deps.audit.record(
            draft(actor, request, action="git.link", target=target, time=now, result="denied", reason=reason)
        )
        raise
