"""The local GitHub (infra/local/github), driven over HTTP as the releases functions and GitHub's
own clients drive GitHub: App JWT -> installation token -> repository calls, webhooks, OAuth."""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from infra.local.github import LocalGitHub, app_jwt, signature_256
from infra.local.github.auth import new_private_key_pem
from infra.local.github.cli import install, push_folder

REPO = "acme/shop"


class _Client(requests.Session):
    """requests with a timeout on every call (a hung server fails the test instead of hanging it)."""

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs.setdefault("timeout", 30)
        return super().request(*args, **kwargs)


http = _Client()


class Clock:
    """A clock the test moves: expiry rules are checked without waiting on real time."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Receiver:
    """A webhook target that records what it got and answers a chosen status."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 202
        self.on_delivery: Callable[[], Any] | None = None  # e.g. call GitHub back, as a receiver may
        self.server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.port}/webhooks/github"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def _app(self, environ: Any, start_response: Any) -> Any:
        request = Request(environ)
        self.received.append((dict(request.headers), request.get_data()))
        called_back = self.on_delivery() if self.on_delivery is not None else None
        return Response(
            json.dumps({"ignored": False, "called_back": called_back}),
            self.status,
            content_type="application/json",
        )(environ, start_response)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    yield target
    target.close()


@pytest.fixture
def github(clock: Clock, receiver: Receiver, tmp_path: Path) -> Iterator[LocalGitHub]:
    server = LocalGitHub(
        state_dir=tmp_path / "github",
        webhook_url=receiver.url,
        setup_url="http://front.local/setup",
        clock=clock,
    ).start()
    yield server
    server.stop()


def folder(tmp_path: Path, files: dict[str, str], name: str = "src") -> Path:
    root = tmp_path / name
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def jwt_header(github: LocalGitHub, clock: Clock, **kwargs: Any) -> dict[str, str]:
    token = app_jwt(
        github.app.private_key_pem, kwargs.pop("issuer", github.app.client_id), clock.now, **kwargs
    )
    return {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}


def _b64(part: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": f"token {token}", "Accept": "application/vnd.github+json"}


def installed(github: LocalGitHub, tmp_path: Path, repos: list[str] | None = None) -> int:
    github.push(REPO, "main", folder(tmp_path, {"Dockerfile": "FROM scratch\n", "app/main.py": "print(1)\n"}))
    github.create_repo("acme/other")
    return int(
        github.install("acme", repos if repos is not None else ["shop", "other"], user="alice")[
            "installation_id"
        ]
    )


def installation_token(
    github: LocalGitHub, clock: Clock, iid: int, body: dict[str, Any] | None = None
) -> str:
    answer = http.post(
        f"{github.url}/app/installations/{iid}/access_tokens",
        json=body or {},
        headers=jwt_header(github, clock),
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


def test_signer_matches_githubs_published_test_vector() -> None:
    assert (
        signature_256("It's a Secret to Everybody", b"Hello, World!")
        == "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    )


def test_app_jwt_is_accepted_and_forged_or_expired_ones_are_refused(
    github: LocalGitHub, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN an installation
    iid = installed(github, tmp_path)
    url = f"{github.url}/app/installations/{iid}"

    # WHEN the App authenticates with a JWT signed by its key, iss = client id or app id
    by_client_id = http.get(url, headers=jwt_header(github, clock))
    by_app_id = http.get(url, headers=jwt_header(github, clock, issuer=github.app.app_id))
    # and with one signed by another key, one expired, one ending over 10 minutes ahead,
    # one for another App, one issued in the future
    forged = app_jwt(new_private_key_pem(), github.app.client_id, clock.now)
    expired = jwt_header(github, clock)
    clock.now += 600
    too_long = jwt_header(github, clock, lifetime=601)
    claims = {"iss": github.app.client_id, "iat": int(clock.now) + 5, "exp": int(clock.now) + 300}
    from_the_future = jwt.encode(claims, github.app.private_key_pem, algorithm="RS256")
    stranger = jwt_header(github, clock, issuer="Iv23someoneelse")
    claims = {"iss": github.app.client_id, "iat": int(clock.now) - 60, "exp": int(clock.now) + 60}
    none_alg = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}."

    # THEN the genuine ones pass and every other is a 401
    assert by_client_id.status_code == 200
    assert by_client_id.json()["account"]["login"] == "acme"
    assert by_app_id.status_code == 200
    for headers in (
        {"Authorization": f"Bearer {forged}"},
        expired,
        too_long,
        stranger,
        {"Authorization": f"Bearer {none_alg}"},
        {"Authorization": f"Bearer {from_the_future}"},
        {},
    ):
        answer = http.get(url, headers=headers)
        assert answer.status_code == 401, headers
        assert "message" in answer.json()


def test_installation_token_is_scoped_to_its_repositories_and_permissions(
    github: LocalGitHub, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN an installation on acme/shop and acme/other
    iid = installed(github, tmp_path)

    # WHEN a token is narrowed to shop with contents read only
    answer = http.post(
        f"{github.url}/app/installations/{iid}/access_tokens",
        json={"repositories": ["shop"], "permissions": {"contents": "read"}},
        headers=jwt_header(github, clock),
    )

    # THEN it says so and lasts one hour
    assert answer.status_code == 201
    grant = answer.json()
    assert grant["token"].startswith("ghs_")
    assert grant["permissions"] == {"contents": "read"}
    assert grant["repository_selection"] == "selected"
    assert [r["full_name"] for r in grant["repositories"]] == [REPO]
    assert grant["expires_at"] == "2027-01-15T09:00:00Z"  # clock + 1 h
    token = token_header(grant["token"])
    # and it reads shop, not other (404 as GitHub hides it), and cannot write statuses (403)
    assert http.get(f"{github.url}/repos/{REPO}", headers=token).status_code == 200
    assert http.get(f"{github.url}/repos/{REPO}/commits/main", headers=token).status_code == 200
    assert http.get(f"{github.url}/repos/acme/other", headers=token).status_code == 404
    sha = github.repo(REPO)["branches"]["main"]
    status = http.post(f"{github.url}/repos/{REPO}/statuses/{sha}", json={"state": "pending"}, headers=token)
    assert status.status_code == 403
    assert status.json()["message"] == "Resource not accessible by integration"
    # and a token for a repository or permission the installation lacks is refused
    outside = {"repositories": ["elsewhere"]}
    more = {"permissions": {"administration": "write"}}
    for body in (outside, more):
        refused = http.post(
            f"{github.url}/app/installations/{iid}/access_tokens",
            json=body,
            headers=jwt_header(github, clock),
        )
        assert refused.status_code == 422
    # and an hour later the token is dead, and a made-up one never lived
    clock.now += 3600
    assert http.get(f"{github.url}/repos/{REPO}", headers=token).status_code == 401
    assert http.get(f"{github.url}/repos/{REPO}", headers=token_header("ghs_made_up")).status_code == 401
    # and through the GitHub Enterprise Server prefix the same API answers
    fresh = token_header(installation_token(github, clock, iid))
    assert http.get(f"{github.api_url}/installation/repositories", headers=fresh).json()["total_count"] == 2


def test_zipball_redirects_to_a_short_lived_archive_with_one_top_folder(
    github: LocalGitHub, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN a pushed folder and a token
    iid = installed(github, tmp_path)
    sha = github.repo(REPO)["branches"]["main"]
    token = token_header(installation_token(github, clock, iid))

    # WHEN the archive of main is asked for
    answer = http.get(f"{github.url}/repos/{REPO}/zipball/main", headers=token, allow_redirects=False)

    # THEN a 302 points at a link that serves a zip with the folder's files under owner-repo-sha7/
    assert answer.status_code == 302
    link = answer.headers["Location"]
    archive = http.get(link)
    assert archive.status_code == 200
    names = zipfile.ZipFile(io.BytesIO(archive.content)).namelist()
    top = f"acme-shop-{sha[:7]}/"
    assert sorted(names) == [top, f"{top}Dockerfile", f"{top}app/main.py"]
    # and the link dies after 5 minutes
    clock.now += 301
    assert http.get(link).status_code == 404
    # and an unknown ref is GitHub's 422
    assert http.get(f"{github.url}/repos/{REPO}/zipball/nope", headers=token).status_code == 422


def test_commit_statuses_are_recorded_and_listed_newest_first(
    github: LocalGitHub, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN a commit and a token
    iid = installed(github, tmp_path)
    sha = github.repo(REPO)["branches"]["main"]
    token = token_header(installation_token(github, clock, iid))
    url = f"{github.url}/repos/{REPO}/statuses/{sha}"

    # WHEN a context goes pending then success, and a bad state is sent
    pending = http.post(url, json={"state": "pending", "context": "stackpilot/web-prod"}, headers=token)
    success = http.post(
        url,
        json={"state": "success", "context": "stackpilot/web-prod", "target_url": "http://x/r/1"},
        headers=token,
    )
    bad = http.post(url, json={"state": "great"}, headers=token)

    # THEN both are listed for the ref, newest first, and the bad one is a 422 naming the field
    assert (pending.status_code, success.status_code) == (201, 201)
    listed = http.get(f"{github.url}/repos/{REPO}/commits/main/statuses", headers=token).json()
    assert [s["state"] for s in listed] == ["success", "pending"]
    assert listed[0]["target_url"] == "http://x/r/1"
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "state"
    combined = http.get(f"{github.url}/repos/{REPO}/commits/{sha}/status", headers=token).json()
    assert combined["state"] == "success"


def test_deployments_honour_required_contexts_and_record_statuses(
    github: LocalGitHub, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN a commit whose CI context failed
    iid = installed(github, tmp_path)
    sha = github.repo(REPO)["branches"]["main"]
    token = token_header(installation_token(github, clock, iid))
    http.post(
        f"{github.url}/repos/{REPO}/statuses/{sha}", json={"state": "failure", "context": "ci"}, headers=token
    )
    url = f"{github.url}/repos/{REPO}/deployments"

    # WHEN a deployment is asked for without required_contexts, then with []
    blocked = http.post(url, json={"ref": "main", "environment": "web-prod"}, headers=token)
    created = http.post(
        url,
        json={"ref": sha, "environment": "web-prod", "auto_merge": False, "required_contexts": []},
        headers=token,
    )

    # THEN the first is GitHub's 409 naming the failing context, the second is made
    assert blocked.status_code == 409
    assert blocked.json()["errors"][0]["contexts"] == [{"context": "ci", "state": "failure"}]
    assert created.status_code == 201
    deployment = created.json()
    assert (deployment["sha"], deployment["environment"]) == (sha, "web-prod")
    # and its statuses: a 141-char description is a 422, in_progress then success are kept
    statuses = f"{url}/{deployment['id']}/statuses"
    too_long = http.post(statuses, json={"state": "failure", "description": "x" * 141}, headers=token)
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "description"
    http.post(statuses, json={"state": "in_progress", "log_url": "http://x/r/1"}, headers=token)
    done = http.post(
        statuses,
        json={"state": "success", "environment_url": "http://web.local", "description": "ok"},
        headers=token,
    )
    assert done.status_code == 201
    assert [s["state"] for s in http.get(statuses, headers=token).json()] == ["success", "in_progress"]
    # and the control API shows what GitHub was told, auto_merge and required_contexts included
    shown = http.get(f"{github.url}/_local/repos/{REPO}/deployments").json()
    assert shown[0]["auto_merge"] is False
    assert shown[0]["required_contexts"] == []
    assert shown[0]["statuses"][0]["environment_url"] == "http://web.local"


def test_auto_merge_defaults_to_true_and_merges_the_default_branch(
    github: LocalGitHub, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN a feature branch behind main
    iid = installed(github, tmp_path)
    base = github.repo(REPO)["branches"]["main"]
    github.repo(REPO)["branches"]["feature"] = base
    github.push(REPO, "main", folder(tmp_path, {"Dockerfile": "FROM scratch\n", "README": "new\n"}, "main2"))
    token = token_header(installation_token(github, clock, iid))

    # WHEN a deployment of the feature branch leaves auto_merge out
    answer = http.post(
        f"{github.url}/repos/{REPO}/deployments",
        json={"ref": "feature", "required_contexts": []},
        headers=token,
    )

    # THEN GitHub's 202 says main was merged in, and feature now has main's commit in its history
    assert answer.status_code == 202
    assert "Auto-merged main into feature" in answer.json()["message"]
    feature = github.repo(REPO)["branches"]["feature"]
    assert github.state.commits[feature]["parents"] == [base, github.repo(REPO)["branches"]["main"]]
    assert "README" in github.files_at(feature)


def test_oauth_code_is_single_use_and_the_user_sees_their_installations(
    github: LocalGitHub, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN the browser install step for alice with a state
    github.push(REPO, "main", folder(tmp_path, {"Dockerfile": "FROM scratch\n"}))
    answer = http.post(
        f"{github.url}/_local/install",
        json={"account": "acme", "repositories": ["shop"], "user": "alice", "state": "s1"},
    ).json()
    assert answer["redirect_url"].startswith("http://front.local/setup?")
    assert "setup_action=install" in answer["redirect_url"]
    assert "state=s1" in answer["redirect_url"]
    form = {
        "client_id": github.app.client_id,
        "client_secret": github.app.client_secret,
        "code": answer["code"],
    }

    # WHEN the code is exchanged twice, and with a wrong secret
    first = http.post(
        f"{github.url}/login/oauth/access_token", data=form, headers={"Accept": "application/json"}
    )
    second = http.post(
        f"{github.url}/login/oauth/access_token", data=form, headers={"Accept": "application/json"}
    )

    # THEN only the first gives a user token, which lists alice's installation
    assert first.json()["access_token"].startswith("ghu_")
    assert second.json()["error"] == "bad_verification_code"
    user = token_header(first.json()["access_token"])
    listed = http.get(f"{github.url}/user/installations", headers=user).json()
    assert [i["id"] for i in listed["installations"]] == [answer["installation_id"]]
    # and bob, who installed nothing, sees none; a user token is no installation token
    bob_code = github.install("bobs", None, user="bob")["code"]
    bob = http.post(
        f"{github.url}/login/oauth/access_token",
        json={**form, "code": bob_code},
        headers={"Accept": "application/json"},
    ).json()
    bob_view = http.get(f"{github.url}/user/installations", headers=token_header(bob["access_token"])).json()
    assert answer["installation_id"] not in [i["id"] for i in bob_view["installations"]]
    assert http.get(f"{github.url}/repos/{REPO}", headers=user).status_code == 401
    # and an unknown client is refused the same way GitHub does, form-encoded without Accept
    wrong = http.post(f"{github.url}/login/oauth/access_token", data={**form, "client_secret": "nope"})
    assert "error=incorrect_client_credentials" in wrong.text


def test_push_is_delivered_signed_as_github_signs_it(
    github: LocalGitHub, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN an installation that sees acme/shop
    installed(github, tmp_path)
    receiver.received.clear()

    # WHEN a folder is pushed to main
    result = github.push(
        REPO,
        "main",
        folder(tmp_path, {"Dockerfile": "FROM python\n"}, "v2"),
        "Ship it",
        {"name": "Ann", "email": "a@x", "username": "ann"},
    )

    # THEN one push webhook arrived, signed with the webhook secret over the raw body
    assert len(receiver.received) == 1
    headers, body = receiver.received[0]
    expected = "sha256=" + hmac.new(github.app.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Hub-Signature-256"], expected)
    assert headers["X-Hub-Signature"].startswith("sha1=")
    assert headers["X-Github-Event"] == "push"
    assert headers["X-Github-Delivery"] == result.deliveries[0]["guid"]
    assert headers["X-Github-Hook-Installation-Target-Type"] == "integration"
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    payload = json.loads(body)
    assert payload["ref"] == "refs/heads/main"
    assert payload["after"] == result.sha and len(result.sha) == 40
    assert payload["before"] != "0" * 40 and not payload["created"] and not payload["deleted"]
    assert payload["head_commit"]["message"] == "Ship it"
    assert payload["head_commit"]["author"] == {"name": "Ann", "email": "a@x", "username": "ann"}
    assert payload["repository"]["full_name"] == REPO and payload["repository"]["default_branch"] == "main"
    assert (
        payload["installation"]["id"]
        == github.install("acme", ["shop", "other"], user="alice")["installation_id"]
    )
    assert payload["sender"]["login"] == "ann"
    # and our answer is recorded with the delivery
    assert result.deliveries[0]["status_code"] == 202
    assert json.loads(result.deliveries[0]["answer"]) == {"ignored": False, "called_back": None}


def test_branch_deletion_and_tag_pushes_are_delivered_as_github_sends_them(
    github: LocalGitHub, receiver: Receiver, tmp_path: Path
) -> None:
    # GIVEN a branch beside main
    installed(github, tmp_path)
    github.push(REPO, "dev", folder(tmp_path, {"Dockerfile": "FROM scratch\n"}, "dev"))
    receiver.received.clear()

    # WHEN the branch is deleted and a tag pushed
    github.delete_branch(REPO, "dev")
    github.push_tag(REPO, "v1.0.0", "main")

    # THEN the deletion has after = 40 zeros and deleted, the tag a refs/tags ref and created
    deletion, tag = (json.loads(body) for _, body in receiver.received)
    assert (deletion["ref"], deletion["after"], deletion["deleted"]) == ("refs/heads/dev", "0" * 40, True)
    assert deletion["head_commit"] is None
    assert (tag["ref"], tag["created"], tag["before"]) == ("refs/tags/v1.0.0", True, "0" * 40)
    assert tag["after"] == github.repo(REPO)["branches"]["main"]


def test_installation_changes_are_delivered(
    github: LocalGitHub, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN a fresh installation
    iid = installed(github, tmp_path, ["shop"])
    created = json.loads(receiver.received[-1][1])
    assert (receiver.received[-1][0]["X-Github-Event"], created["action"]) == ("installation", "created")

    # WHEN a repository is added, one removed, the installation suspended and deleted
    github.change_repositories(iid, add=["other"])
    github.change_repositories(iid, remove=["shop"])
    github.set_installation(iid, "suspend")
    tokens_url = f"{github.url}/app/installations/{iid}/access_tokens"
    while_suspended = http.post(tokens_url, headers=jwt_header(github, clock))
    pushed_while_suspended = github.push("acme/other", "main", folder(tmp_path, {"f": "1"}, "s1"))
    github.set_installation(iid, "deleted")

    # THEN each sends its event and action
    seen = [(h["X-Github-Event"], json.loads(b)["action"]) for h, b in receiver.received[-4:]]
    assert seen == [
        ("installation_repositories", "added"),
        ("installation_repositories", "removed"),
        ("installation", "suspend"),
        ("installation", "deleted"),
    ]
    # and a suspended installation gets no token and no push; a deleted one is gone
    assert while_suspended.status_code == 403
    assert pushed_while_suspended.deliveries == []
    assert http.post(tokens_url, headers=jwt_header(github, clock)).status_code == 404
    added = json.loads(receiver.received[-4][1])
    assert [r["full_name"] for r in added["repositories_added"]] == ["acme/other"]


def test_deliveries_are_listed_paged_and_redelivered_with_the_same_guid(
    github: LocalGitHub, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN three pushes, the last one refused by our receiver
    installed(github, tmp_path)
    for n in range(2):
        github.push(REPO, "main", folder(tmp_path, {"f": str(n)}, f"p{n}"))
    receiver.status = 500
    failed = github.push(REPO, "main", folder(tmp_path, {"f": "x"}, "px")).deliveries[0]
    receiver.status = 202
    total = len(github.deliveries())

    # WHEN the App lists its deliveries two per page, following the Link header
    items: list[dict[str, Any]] = []
    url: str | None = f"{github.url}/app/hook/deliveries?per_page=2"
    while url:
        page = http.get(url, headers=jwt_header(github, clock))
        items += page.json()
        url = page.links.get("next", {}).get("url")

    # THEN every delivery comes once, newest first, the failed one not OK
    assert len(items) == total
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    assert items[0]["guid"] == failed["guid"]
    assert (items[0]["status_code"], items[0]["status"] != "OK", items[0]["event"]) == (500, True, "push")
    assert items[1]["status"] == "OK"
    assert items[0]["repository_id"] == github.repo(REPO)["id"]

    # WHEN it is redelivered
    answer = http.post(
        f"{github.url}/app/hook/deliveries/{items[0]['id']}/attempts", headers=jwt_header(github, clock)
    )
    assert answer.status_code == 202
    github_thread_done(github, total + 1)

    # THEN the new attempt keeps the guid, says redelivery, and is OK
    latest = http.get(
        f"{github.url}/app/hook/deliveries?per_page=1", headers=jwt_header(github, clock)
    ).json()[0]
    assert (latest["guid"], latest["redelivery"], latest["status"]) == (failed["guid"], True, "OK")
    assert receiver.received[-1][0]["X-Github-Delivery"] == failed["guid"]
    # and three days later they have dropped out
    clock.now += 3 * 24 * 3600 + 1
    assert http.get(f"{github.url}/app/hook/deliveries", headers=jwt_header(github, clock)).json() == []


def github_thread_done(github: LocalGitHub, count: int) -> None:
    """The redelivery runs after the 202 (as GitHub's does): wait on the record, not on time."""
    done = threading.Event()
    for _ in range(2000):
        if len(github.deliveries()) >= count:
            done.set()
            break
        done.wait(0.005)
    assert done.is_set(), "the redelivery was never recorded"


def test_faults_answer_5xx_rate_limits_and_a_down_target(
    github: LocalGitHub, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN a token and armed faults: two 502s on statuses, one rate limit on commits
    iid = installed(github, tmp_path)
    token = token_header(installation_token(github, clock, iid))
    sha = github.repo(REPO)["branches"]["main"]
    http.post(
        f"{github.url}/_local/faults",
        json={"method": "POST", "path": "/repos/*/statuses/*", "kind": "server_error", "count": 2},
    )
    github.faults.add(
        __import__("infra.local.github", fromlist=["Fault"]).Fault(
            "GET", "/repos/*/commits/*", "rate_limit", 1
        )
    )
    url = f"{github.url}/repos/{REPO}/statuses/{sha}"

    # WHEN the calls are made
    answers = [http.post(url, json={"state": "pending"}, headers=token).status_code for _ in range(3)]
    limited = http.get(f"{github.url}/repos/{REPO}/commits/main", headers=token)
    after = http.get(f"{github.url}/repos/{REPO}/commits/main", headers=token)

    # THEN the first N fail as armed and then GitHub answers again
    assert answers == [502, 502, 201]
    assert limited.status_code == 403
    assert limited.headers["x-ratelimit-remaining"] == "0"
    assert int(limited.headers["x-ratelimit-reset"]) == int(clock.now) + 60
    assert after.status_code == 200

    # WHEN the target is down for one delivery
    http.post(f"{github.url}/_local/faults", json={"target_down": 1})
    down = github.push(REPO, "main", folder(tmp_path, {"f": "1"}, "d1")).deliveries[0]
    up = github.push(REPO, "main", folder(tmp_path, {"f": "2"}, "d2")).deliveries[0]

    # THEN that delivery failed to connect and the next one arrived
    assert (down["status_code"], down["status"]) == (0, "failed to connect")
    assert up["status_code"] == 202


def test_state_survives_a_restart(
    github: LocalGitHub, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN an installation, a token, a status and a delivery
    iid = installed(github, tmp_path)
    token = installation_token(github, clock, iid)
    sha = github.repo(REPO)["branches"]["main"]
    http.post(
        f"{github.url}/repos/{REPO}/statuses/{sha}", json={"state": "success"}, headers=token_header(token)
    )
    app_id, deliveries = github.app.app_id, len(github.deliveries())
    github.stop()

    # WHEN a new server loads the same state directory
    again = LocalGitHub(state_dir=tmp_path / "github", clock=clock).start()
    try:
        # THEN the App, its key, the repository, the token, statuses and deliveries are back
        assert again.app.app_id == app_id
        assert again.app.webhook_url == receiver.url
        assert (
            http.get(f"{again.url}/app/installations/{iid}", headers=jwt_header(again, clock)).status_code
            == 200
        )
        statuses = http.get(f"{again.url}/repos/{REPO}/commits/{sha}/statuses", headers=token_header(token))
        assert [s["state"] for s in statuses.json()] == ["success"]
        assert len(again.deliveries()) == deliveries
        assert token not in (tmp_path / "github" / "github.json").read_text()
    finally:
        again.stop()


def test_control_api_pushes_a_zipped_folder_and_refuses_bad_input(
    github: LocalGitHub, receiver: Receiver, tmp_path: Path
) -> None:
    # GIVEN an installation and a zipped folder, as the CLI sends it
    installed(github, tmp_path)

    # WHEN the CLI's push is used
    result = push_folder(
        github.url, REPO, "main", folder(tmp_path, {"Dockerfile": "FROM x\n"}, "cli"), "From CLI"
    )

    # THEN the commit is made and delivered, our answer returned
    assert len(result["sha"]) == 40
    assert result["deliveries"][0]["status_code"] == 202
    assert github.files_at(result["sha"]) == {"Dockerfile": b"FROM x\n"}
    # and bad input is a 4xx naming the field
    bad = http.post(f"{github.url}/_local/repos/{REPO}/push", json={"branch": "main", "zip_base64": "%%%"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "zip_base64"
    missing = http.post(f"{github.url}/_local/repos/{REPO}/push", json={"zip_base64": ""})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "branch"
    assert http.post(f"{github.url}/_local/install", data=b"{nope").status_code == 400


def test_cli_install_plays_the_browser_to_the_setup_url(
    github: LocalGitHub, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN the App's setup URL is our receiver, and an install URL with a state, as our API answers it
    github.configure(setup_url=receiver.url.replace("/webhooks/github", "/git/github/setup"))
    github.create_repo(REPO)
    receiver.received.clear()

    # WHEN the CLI follows it for org acme and one repository
    result = install(github.url, github.install_url(state="st-1"), org="acme", repos=[REPO], user="alice")

    # THEN the installation webhook went out, then the browser landed on the setup URL with
    # installation_id, a code that exchanges for alice's token, the state and setup_action=install
    assert result["setup_status"] == 202
    events = [headers.get("X-Github-Event") for headers, _ in receiver.received]
    assert events == ["installation", None]
    landing = parse_qs(urlsplit(result["redirect_url"]).query)
    assert landing["installation_id"] == [str(result["installation_id"])]
    assert (landing["state"], landing["setup_action"]) == (["st-1"], ["install"])
    token = github.exchange_code(github.app.client_id, github.app.client_secret, landing["code"][0])
    user = http.get(f"{github.url}/user/installations", headers=token_header(token["access_token"])).json()
    assert [i["id"] for i in user["installations"]] == [result["installation_id"]]
    assert [r["full_name"] for r in github.visible_repos(github.installation(result["installation_id"]))] == [
        REPO
    ]


def test_no_secret_reaches_the_log(
    github: LocalGitHub, receiver: Receiver, clock: Clock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # GIVEN every log line of a journey: install, code exchange, token, archive, push, redelivery
    caplog.set_level("DEBUG")
    iid = installed(github, tmp_path)
    code = github.install("acme", ["shop"], user="alice")["code"]
    user_token = github.exchange_code(github.app.client_id, github.app.client_secret, code)["access_token"]
    token = installation_token(github, clock, iid)
    link = http.get(
        f"{github.url}/repos/{REPO}/zipball/main", headers=token_header(token), allow_redirects=False
    )
    key = link.headers["Location"].rsplit("/", 1)[-1]
    http.get(link.headers["Location"])
    pushed = github.push(REPO, "main", folder(tmp_path, {"f": "1"}, "n1"))
    github.redeliver(pushed.deliveries[0]["id"])

    # THEN none of the secrets, tokens, code, archive key or signatures is in the server's log
    # (the server's loggers; the test's own HTTP client logs the URLs it calls, keys included)
    server_side = [r for r in caplog.records if r.name.startswith(("stackpilot", "werkzeug"))]
    text = "\n".join(record.getMessage() for record in server_side)
    assert "delivered push" in text  # the log is captured at all
    assert "GET /_codeload/… -> 200" in text  # the request log, with the archive key cut out
    app = github.app
    for secret in (app.client_secret, app.webhook_secret, token, user_token, code, key, "sha256="):
        assert secret not in text
    assert "PRIVATE KEY" not in text


def test_a_receiver_can_call_github_back_while_a_delivery_is_in_flight(
    github: LocalGitHub, receiver: Receiver, clock: Clock, tmp_path: Path
) -> None:
    # GIVEN a receiver that reads the pushed commit from GitHub before it answers
    iid = installed(github, tmp_path)
    token = token_header(installation_token(github, clock, iid))
    receiver.on_delivery = lambda: http.get(f"{github.url}/repos/{REPO}/commits/main", headers=token).json()[
        "sha"
    ]

    # WHEN folders are pushed through the control API (as the CLI does) and the Python API
    zipped = push_folder(github.url, REPO, "main", folder(tmp_path, {"f": "1"}, "c1"))
    direct = github.push(REPO, "main", folder(tmp_path, {"f": "2"}, "c2"))

    # THEN neither push waits on the other's lock: each answer carries the commit the receiver read
    assert json.loads(zipped["deliveries"][0]["answer"])["called_back"] == zipped["sha"]
    assert json.loads(direct.deliveries[0]["answer"])["called_back"] == direct.sha
