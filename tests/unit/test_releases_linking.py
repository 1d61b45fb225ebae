"""Linking a GitHub App installation to an org (functions/releases/logic/linking.py): the link is made
only after the state checks out (ours, unexpired, first use), the code is exchanged, and that user can
see the installation; one installation, one org; refusals audited in the state's org."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from functions.releases.exceptions import InstallationTaken, InstallRefused
from functions.releases.logic import linking
from functions.releases.logic.linking import InstallDeps, SetupDeps
from functions.shared.errors import Forbidden
from functions.shared.logic.auditing import RequestInfo
from functions.shared.models.principal import Principal, Role
from tests.fakes.releases import GitHubUsers, InMemoryDeliveries, InMemoryLinks, SignedStates

NOW = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
ADMIN = Principal(org_id="org_acme", role=Role.ADMIN, user_id="alice")
REQUEST = RequestInfo(request_id="r-1", source="203.0.113.9")
APP_PAGE = "https://github.com/apps/stackpilot/installations/new"


class RecordingAudit:
    def __init__(self) -> None:
        self.entries: list[object] = []

    def record(self, draft: object) -> object:
        self.entries.append(draft)
        return draft


class World:
    def __init__(self) -> None:
        self.states = SignedStates()
        self.github = GitHubUsers(codes={"code-1": {42: "acme", 43: "acme-labs"}})
        self.links = InMemoryLinks()
        self.used = InMemoryDeliveries()
        self.audit = RecordingAudit()

    def begin(self, principal: Principal = ADMIN, now: datetime = NOW) -> str:
        start = linking.begin_install(InstallDeps(self.states, APP_PAGE), principal, now)
        assert start.install_url.startswith(APP_PAGE + "?") and start.expires_at == now + timedelta(
            minutes=10
        )
        return parse_qs(urlsplit(start.install_url).query)["state"][0]

    def setup(self, installation: int, code: str, state: str, now: datetime = NOW) -> object:
        deps = SetupDeps(self.states, self.used, self.github, self.links, self.audit)
        return linking.complete_install(deps, installation, code, state, REQUEST, now)


def test_an_admin_links_an_installation_their_github_user_can_see() -> None:
    world = World()
    state = world.begin()
    link = world.setup(42, "code-1", state, NOW + timedelta(minutes=9))
    assert world.links.links[42][0] == link and world.links.links[42][1] == "acme"
    assert (link.org_id, link.link_id) == ("org_acme", "gh_42")  # type: ignore[attr-defined]
    (audit,) = world.links.audited
    assert (audit.actor, audit.action, audit.result, audit.org_id) == (
        "user:alice",
        "git.link",
        "succeeded",
        "org_acme",
    )


@pytest.mark.parametrize(
    "principal",
    [
        Principal(org_id="org_acme", role=Role.CONTRIBUTOR, user_id="bob"),
        Principal(org_id="org_acme", role=Role.ADMIN, user_id="alice", principal_type="api_key", key_id="k1"),
    ],
)
def test_only_an_admin_user_may_begin(principal: Principal) -> None:
    with pytest.raises(Forbidden):
        World().begin(principal)


@pytest.mark.parametrize(
    ("state", "when", "says"),
    [
        ("state-forged", NOW, "not one we issued"),
        (None, NOW + timedelta(minutes=10), "not one we issued, or it expired"),
    ],
)
def test_a_forged_or_expired_state_links_nothing(state: str | None, when: datetime, says: str) -> None:
    world = World()
    issued = world.begin()
    with pytest.raises(InstallRefused) as refused:
        world.setup(42, "code-1", state or issued, when)
    assert says in str(refused.value) and world.links.links == {}
    assert world.github.codes  # the code was never spent on a state we did not trust


def test_a_state_is_single_use_and_its_reuse_is_audited_as_denied() -> None:
    world = World()
    state = world.begin()
    world.setup(42, "code-1", state)
    world.github.codes["code-2"] = {43: "acme-labs"}
    with pytest.raises(InstallRefused) as refused:
        world.setup(43, "code-2", state)
    assert "used already" in str(refused.value) and 43 not in world.links.links
    (denied,) = world.audit.entries
    assert (denied.result, denied.org_id, denied.actor) == ("denied", "org_acme", "user:alice")  # type: ignore[attr-defined]


def test_an_installation_the_user_cannot_see_is_refused_whatever_the_setup_url_says() -> None:
    # GIVEN a forged installation_id in the setup URL (GitHub's docs warn it can be)
    world = World()
    with pytest.raises(InstallRefused) as refused:
        world.setup(999, "code-1", world.begin())
    assert "999 is not one your GitHub account can access" in str(refused.value)
    assert world.links.links == {} and len(world.audit.entries) == 1


def test_an_installation_linked_to_another_org_stays_there() -> None:
    world = World()
    world.setup(42, "code-1", world.begin())
    other = Principal(org_id="org_rival", role=Role.OWNER, user_id="mallory")
    world.github.codes["code-9"] = {42: "acme"}
    with pytest.raises(InstallationTaken):
        world.setup(42, "code-9", world.begin(other))
    assert world.links.links[42][0].org_id == "org_acme"
    assert world.audit.entries[-1].org_id == "org_rival"  # type: ignore[attr-defined]
