"""The install flow's GitHub calls (functions/releases/integrations/github.py) against the local
GitHub, which speaks GitHub's documented shapes: the code exchanged once, the user's installations
listed, and each way GitHub can refuse or fail mapped to a refusal or a 503."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from functions.releases.exceptions import InstallRefused, ServiceUnavailable
from functions.releases.integrations.github import GitHubRest, OAuthGitHubUser
from infra.local.github import Fault, LocalGitHub
from tests.fakes.releases import FixedSecret


@pytest.fixture
def github() -> Iterator[LocalGitHub]:
    server = LocalGitHub(setup_url="http://front.local/setup").start()
    server.create_repo("acme/shop")
    yield server
    server.stop()


def _user(github: LocalGitHub, secret: str | None = None) -> OAuthGitHubUser:
    client_secret = (secret if secret is not None else github.app.client_secret).encode()
    return OAuthGitHubUser(
        github.url, GitHubRest(github.api_url), github.app.client_id, FixedSecret(client_secret)
    )


def test_the_code_is_exchanged_once_for_the_users_installations(github: LocalGitHub) -> None:
    installed = github.install("acme", ["acme/shop"], user="alice")
    user = _user(github)
    assert user.installations(installed["code"]) == {int(installed["installation_id"]): "acme"}
    # GitHub's codes are single-use: a replayed setup URL links nothing
    with pytest.raises(InstallRefused):
        user.installations(installed["code"])


def test_another_users_code_lists_only_what_that_user_installed(github: LocalGitHub) -> None:
    github.install("acme", ["acme/shop"], user="alice")
    github.create_repo("mallory/tools")
    theirs = github.install("mallory", ["mallory/tools"], user="mallory")
    found = _user(github).installations(theirs["code"])
    assert list(found.values()) == ["mallory"]


def test_a_made_up_code_is_refused(github: LocalGitHub) -> None:
    with pytest.raises(InstallRefused):
        _user(github).installations("not-a-code")


def test_wrong_app_credentials_are_the_operators_problem_not_the_users(github: LocalGitHub) -> None:
    installed = github.install("acme", ["acme/shop"], user="alice")
    with pytest.raises(ServiceUnavailable) as down:
        _user(github, secret="wrong").installations(installed["code"])
    assert "misconfigured" in str(down.value)
    assert github.app.client_secret not in str(down.value) + str(down.value.detail)


@pytest.mark.parametrize(("kind", "status"), [("server_error", 502), ("rate_limit", 403)])
def test_github_down_or_rate_limiting_is_a_503(github: LocalGitHub, kind: str, status: int) -> None:
    installed = github.install("acme", ["acme/shop"], user="alice")
    github.faults.add(Fault("GET", "*/user/installations", kind, remaining=1, status=status))  # type: ignore[arg-type]
    with pytest.raises(ServiceUnavailable):
        _user(github).installations(installed["code"])


def test_nothing_listening_is_a_503() -> None:
    user = OAuthGitHubUser("http://127.0.0.1:9", GitHubRest("http://127.0.0.1:9"), "Iv1.x", FixedSecret(b"s"))
    with pytest.raises(ServiceUnavailable):
        user.installations("code")
