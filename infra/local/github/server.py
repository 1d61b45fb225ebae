"""The local GitHub's HTTP side: GitHub's REST shapes at the root (or under ``/api/v3``, as a GitHub
Enterprise Server serves them), the browser and OAuth endpoints, and the ``/_local/`` control API."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import secrets
import threading
from collections.abc import Iterable
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from infra.local.github import records, store
from infra.local.github.auth import covers, verify_app_jwt
from infra.local.github.core import ARCHIVE_LINK_SECONDS, GitHubCore
from infra.local.github.errors import GitHubError, bad_credentials, invalid, not_accessible, not_found
from infra.local.github.faults import KINDS, Fault
from infra.local.github.hooks import summary

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("stackpilot.local_github")

GHES_PREFIX = "/api/v3"
MAX_PER_PAGE = 100
CONTROL_MAX_BYTES = 64 * 1024 * 1024

_R = "/repos/<owner>/<name>"
ROUTES = Map(
    [
        Rule("/app", methods=["GET"], endpoint="app"),
        Rule("/app/installations", methods=["GET"], endpoint="app_installations"),
        Rule("/app/installations/<int:iid>", methods=["GET"], endpoint="app_installation"),
        Rule("/app/installations/<int:iid>/access_tokens", methods=["POST"], endpoint="access_token"),
        Rule("/app/hook/deliveries", methods=["GET"], endpoint="deliveries"),
        Rule("/app/hook/deliveries/<int:did>", methods=["GET"], endpoint="delivery"),
        Rule("/app/hook/deliveries/<int:did>/attempts", methods=["POST"], endpoint="redeliver"),
        Rule("/installation/repositories", methods=["GET"], endpoint="installation_repos"),
        Rule(_R, methods=["GET"], endpoint="repo"),
        Rule(f"{_R}/commits/<path:ref>/statuses", methods=["GET"], endpoint="commit_statuses"),
        Rule(f"{_R}/commits/<path:ref>/status", methods=["GET"], endpoint="combined_status"),
        Rule(f"{_R}/commits/<path:ref>", methods=["GET"], endpoint="commit"),
        Rule(f"{_R}/statuses/<path:ref>", methods=["GET"], endpoint="commit_statuses"),
        Rule(f"{_R}/statuses/<sha>", methods=["POST"], endpoint="create_status"),
        Rule(f"{_R}/zipball", methods=["GET"], endpoint="zipball"),
        Rule(f"{_R}/zipball/<path:ref>", methods=["GET"], endpoint="zipball"),
        Rule(f"{_R}/deployments", methods=["GET"], endpoint="deployments"),
        Rule(f"{_R}/deployments", methods=["POST"], endpoint="create_deployment"),
        Rule(f"{_R}/deployments/<int:did>", methods=["GET"], endpoint="deployment"),
        Rule(f"{_R}/deployments/<int:did>/statuses", methods=["GET"], endpoint="deployment_statuses"),
        Rule(f"{_R}/deployments/<int:did>/statuses", methods=["POST"], endpoint="create_deployment_status"),
        Rule("/user/installations", methods=["GET"], endpoint="user_installations"),
        Rule("/login/oauth/access_token", methods=["POST"], endpoint="oauth_token"),
        Rule("/apps/<slug>/installations/new", methods=["GET"], endpoint="install_page"),
        Rule("/_codeload/<key>", methods=["GET"], endpoint="codeload"),
    ]
)

_C = "/_local"
CONTROL = Map(
    [
        Rule(f"{_C}/app", methods=["GET"], endpoint="app"),
        Rule(f"{_C}/app/credentials", methods=["GET"], endpoint="credentials"),
        Rule(f"{_C}/repos", methods=["POST"], endpoint="create_repo"),
        Rule(f"{_C}/repos/<owner>/<name>/push", methods=["POST"], endpoint="push"),
        Rule(
            f"{_C}/repos/<owner>/<name>/branches/<path:branch>", methods=["DELETE"], endpoint="delete_branch"
        ),
        Rule(f"{_C}/repos/<owner>/<name>/tags", methods=["POST"], endpoint="push_tag"),
        Rule(f"{_C}/repos/<owner>/<name>/deployments", methods=["GET"], endpoint="deployments"),
        Rule(f"{_C}/repos/<owner>/<name>/statuses", methods=["GET"], endpoint="statuses"),
        Rule(f"{_C}/install", methods=["POST"], endpoint="install"),
        Rule(f"{_C}/installations/<int:iid>", methods=["DELETE"], endpoint="delete_installation"),
        Rule(
            f"{_C}/installations/<int:iid>/<any(suspend, unsuspend):action>",
            methods=["POST"],
            endpoint="suspend",
        ),
        Rule(f"{_C}/installations/<int:iid>/repositories", methods=["POST"], endpoint="change_repos"),
        Rule(f"{_C}/deliveries", methods=["GET"], endpoint="deliveries"),
        Rule(f"{_C}/faults", methods=["POST"], endpoint="add_fault"),
        Rule(f"{_C}/faults", methods=["DELETE"], endpoint="clear_faults"),
        Rule(f"{_C}/setup-landing", methods=["GET"], endpoint="setup_landing"),
    ]
)


class _QuietHandler(WSGIRequestHandler):
    """Logs method and path only: a query string may carry a code or an archive key."""

    server_version = "GitHub.com-local"

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = self.path.split("?")[0]
        if path.startswith("/_codeload/"):
            path = "/_codeload/…"  # the archive key works as a credential for 5 minutes
        log.debug("local github: %s %s -> %s", self.command, path, code)


class LocalGitHub(GitHubCore):
    """A GitHub stand-in on loopback. ``start()`` serves it; ``url`` is then the base URL to give
    the functions (the GitHub Enterprise Server setting); the Python API drives it in tests."""

    _server: BaseWSGIServer | None = None
    _thread: threading.Thread | None = None

    # --- serving -------------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> LocalGitHub:
        server = make_server(host, port, self, threaded=True, request_handler=_QuietHandler)
        self.base_url = f"http://{host}:{server.port}"
        # A short poll keeps stop() quick (shutdown waits for the loop's next poll).
        thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="local-github", daemon=True)
        thread.start()
        self._server, self._thread = server, thread
        log.info("local github: serving on %s", self.base_url)
        return self

    @property
    def url(self) -> str:
        return self.base_url

    @property
    def api_url(self) -> str:
        """The REST base as a GitHub Enterprise Server spells it (the root works as well)."""
        return f"{self.base_url}{GHES_PREFIX}"

    def install_url(self, state: str | None = None) -> str:
        query = f"?{urlencode({'state': state})}" if state is not None else ""
        return f"{self.base_url}/apps/{self.app.slug}/installations/new{query}"

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        path = request.path
        if path.startswith(GHES_PREFIX + "/"):
            path = path[len(GHES_PREFIX) :]
        try:
            if path.startswith(_C + "/"):
                response = self._route(CONTROL, request, path, "control_")
            else:
                self.faults.check(request.method, path, self.clock())
                response = self._route(ROUTES, request, path, "rest_")
        except GitHubError as error:
            response = _json(error.status, error.body(), error.headers)
        except HTTPException as error:
            response = _json(
                error.code or 500, {"message": "Not Found" if error.code == 404 else error.description}
            )
        response.headers.setdefault("X-GitHub-Request-Id", secrets.token_hex(8).upper())
        return response(environ, start_response)

    def _route(self, table: Map, request: Request, path: str, prefix: str) -> Response:
        endpoint, args = table.bind("local", path_info=path).match(path, method=request.method)
        handler = getattr(self, prefix + str(endpoint))
        with self._lock:
            response: Response = handler(request, **args)
            if request.method != "GET":
                self._save()
        return response

    # --- auth ----------------------------------------------------------------------------------

    def _credential(self, request: Request) -> str:
        header = request.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() not in {"bearer", "token"} or not value.strip():
            raise GitHubError(401, "Requires authentication")
        return value.strip()

    def _require_app(self, request: Request) -> None:
        verify_app_jwt(
            self._credential(request),
            public_pem=self.public_key_pem,
            app_id=self.app.app_id,
            client_id=self.app.client_id,
            now=self.clock(),
        )

    def _installation_grant(self, request: Request) -> dict[str, Any]:
        grant = self.grant(self._credential(request))
        if grant is None or grant["kind"] != "installation":
            raise bad_credentials()
        return grant

    def _repo_access(
        self, request: Request, owner: str, name: str, permission: str, level: str
    ) -> dict[str, Any]:
        """The repository when the installation token sees it (else 404) with the permission (else 403)."""
        grant = self._installation_grant(request)
        record = self.state.repos.get(f"{owner}/{name}")
        if record is None or record not in self.token_repos(grant):
            raise not_found()
        if permission != "metadata" and not covers(grant["permissions"], permission, level):
            raise not_accessible()
        return record

    def _bot(self) -> str:
        return f"{self.app.slug}[bot]"

    # --- REST: the App -------------------------------------------------------------------------

    def rest_app(self, request: Request) -> Response:
        self._require_app(request)
        return _json(
            200,
            {
                "id": self.app.app_id,
                "slug": self.app.slug,
                "client_id": self.app.client_id,
                "name": self.app.name,
                "permissions": self.app.permissions,
                "events": self.app.events,
                "installations_count": len(self.state.installations),
            },
        )

    def rest_app_installations(self, request: Request) -> Response:
        self._require_app(request)
        return _json(200, [self.installation_json(i) for i in self.state.installations.values()])

    def rest_app_installation(self, request: Request, iid: int) -> Response:
        self._require_app(request)
        return _json(200, self.installation_json(self.installation(iid)))

    def rest_access_token(self, request: Request, iid: int) -> Response:
        self._require_app(request)
        body = _body(request) if request.get_data() else {}
        return _json(201, self.create_installation_token(iid, body))

    def rest_deliveries(self, request: Request) -> Response:
        self._require_app(request)
        per_page = _int_arg(request, "per_page", 30)
        if per_page < 1:
            raise invalid("Delivery", "per_page", "per_page must be at least 1")
        per_page = min(per_page, MAX_PER_PAGE)
        items = self.deliveries()
        cursor = request.args.get("cursor")
        if cursor:
            try:
                after = int(cursor.removeprefix("v1_"))
            except ValueError as error:
                raise invalid("Delivery", "cursor", "cursor is not one this API gave") from error
            items = [d for d in items if d["id"] < after]
        page, rest = items[:per_page], items[per_page:]
        headers = {}
        if rest:
            query = urlencode({"per_page": per_page, "cursor": f"v1_{page[-1]['id']}"})
            next_url = f"{self.base_url}/app/hook/deliveries?{query}"
            headers["Link"] = f'<{next_url}>; rel="next"'
        return _json(200, [summary(d) for d in page], headers)

    def rest_delivery(self, request: Request, did: int) -> Response:
        self._require_app(request)
        found = next((d for d in self.deliveries() if d["id"] == did), None)
        if found is None:
            raise not_found()
        return _json(
            200,
            {
                **summary(found),
                "url": self.app.webhook_url,
                "request": {
                    "headers": {"X-GitHub-Event": found["event"], "X-GitHub-Delivery": found["guid"]},
                    "payload": json.loads(found["body"]),
                },
                "response": {"headers": found["answer_headers"], "payload": found["answer"]},
            },
        )

    def rest_redeliver(self, request: Request, did: int) -> Response:
        self._require_app(request)
        if not any(d["id"] == did for d in self.deliveries()):
            raise not_found()
        threading.Thread(
            target=self.redeliver, args=(did,), name="local-github-redeliver", daemon=True
        ).start()
        return _json(202, {})

    # --- REST: installation token --------------------------------------------------------------

    def rest_installation_repos(self, request: Request) -> Response:
        grant = self._installation_grant(request)
        repos = self.token_repos(grant)
        inst = self.state.installations.get(str(grant["installation_id"]))
        selection = (
            "selected" if grant["repository_ids"] is not None else (inst or {}).get("repository_selection")
        )
        return _json(
            200,
            {
                "total_count": len(repos),
                "repository_selection": selection,
                "repositories": [self.repo_json(r) for r in repos],
            },
        )

    def rest_repo(self, request: Request, owner: str, name: str) -> Response:
        return _json(200, self.repo_json(self._repo_access(request, owner, name, "metadata", "read")))

    def rest_commit(self, request: Request, owner: str, name: str, ref: str) -> Response:
        record = self._repo_access(request, owner, name, "contents", "read")
        return _json(200, self.commit_json(record, self.resolve(record, ref)))

    def rest_commit_statuses(self, request: Request, owner: str, name: str, ref: str) -> Response:
        record = self._repo_access(request, owner, name, "statuses", "read")
        sha = self.resolve(record, ref)
        return _json(200, [records.status_json(self, s) for s in records.statuses_for(self, record, sha)])

    def rest_combined_status(self, request: Request, owner: str, name: str, ref: str) -> Response:
        record = self._repo_access(request, owner, name, "statuses", "read")
        return _json(200, records.combined(self, record, self.resolve(record, ref)))

    def rest_create_status(self, request: Request, owner: str, name: str, sha: str) -> Response:
        record = self._repo_access(request, owner, name, "statuses", "write")
        return _json(201, records.create_status(self, record, sha, _body(request), self._bot()))

    def rest_zipball(self, request: Request, owner: str, name: str, ref: str | None = None) -> Response:
        record = self._repo_access(request, owner, name, "contents", "read")
        sha = self.resolve(record, ref or record["default_branch"])
        key = secrets.token_urlsafe(24)
        self._prune_links()
        self.state.links[key] = {
            "repo": record["full_name"],
            "sha": sha,
            "expires_at": self.clock() + ARCHIVE_LINK_SECONDS,
        }
        location = f"{self.base_url}/_codeload/{key}"
        return Response(b"", 302, headers={"Location": location})

    def _prune_links(self) -> None:
        now = self.clock()
        for key in [k for k, link in self.state.links.items() if link["expires_at"] <= now]:
            del self.state.links[key]

    def rest_codeload(self, request: Request, key: str) -> Response:
        link = self.state.links.get(key)
        if link is None or link["expires_at"] <= self.clock():
            raise not_found()
        owner, name = link["repo"].split("/")
        top = f"{owner}-{name}-{link['sha'][:7]}"
        data = store.archive_zip(self.files_at(link["sha"]), top)
        return Response(
            data,
            200,
            headers={
                "Content-Type": "application/zip",
                "Content-Disposition": f"attachment; filename={top}.zip",
            },
        )

    def rest_deployments(self, request: Request, owner: str, name: str) -> Response:
        record = self._repo_access(request, owner, name, "deployments", "read")
        found = records.list_deployments(self, record, dict(request.args))
        return _json(200, [records.deployment_json(self, d) for d in found])

    def rest_create_deployment(self, request: Request, owner: str, name: str) -> Response:
        record = self._repo_access(request, owner, name, "deployments", "write")
        status, body = records.create_deployment(self, record, _body(request), self._bot())
        return _json(status, body)

    def rest_deployment(self, request: Request, owner: str, name: str, did: int) -> Response:
        record = self._repo_access(request, owner, name, "deployments", "read")
        return _json(200, records.deployment_json(self, records.deployment(self, record, did)))

    def rest_deployment_statuses(self, request: Request, owner: str, name: str, did: int) -> Response:
        record = self._repo_access(request, owner, name, "deployments", "read")
        item = records.deployment(self, record, did)
        return _json(
            200,
            [records.deployment_status_json(self, s) for s in records.deployment_statuses(self, item["id"])],
        )

    def rest_create_deployment_status(self, request: Request, owner: str, name: str, did: int) -> Response:
        record = self._repo_access(request, owner, name, "deployments", "write")
        item = records.deployment(self, record, did)
        return _json(201, records.create_deployment_status(self, record, item, _body(request), self._bot()))

    # --- REST: OAuth and the browser -----------------------------------------------------------

    def rest_user_installations(self, request: Request) -> Response:
        grant = self.grant(self._credential(request))
        if grant is None or grant["kind"] != "user":
            raise bad_credentials()
        found = self.user_installations(grant["user"])
        return _json(200, {"total_count": len(found), "installations": found})

    def rest_oauth_token(self, request: Request) -> Response:
        if request.mimetype == "application/json":
            fields = {k: str(v) for k, v in _body(request).items()}
        else:
            fields = {k: v for k, v in request.form.items()} | {k: v for k, v in request.args.items()}
        answer = self.exchange_code(
            fields.get("client_id", ""), fields.get("client_secret", ""), fields.get("code", "")
        )
        if "application/json" in request.headers.get("Accept", ""):
            return _json(200, answer)
        return Response(urlencode(answer), 200, content_type="application/x-www-form-urlencoded")

    def rest_install_page(self, request: Request, slug: str) -> Response:
        if slug != self.app.slug:
            raise not_found()
        state = escape(request.args.get("state", ""))
        html = (
            f"<html><body><h1>Install {escape(self.app.name)}</h1><p>This local GitHub installs through "
            f"POST {_C}/install with account, repositories, user and state={state!r}.</p></body></html>"
        )
        return Response(html, 200, content_type="text/html; charset=utf-8")

    # --- control API ---------------------------------------------------------------------------

    def control_app(self, request: Request) -> Response:
        return _json(
            200,
            {
                "app_id": self.app.app_id,
                "slug": self.app.slug,
                "client_id": self.app.client_id,
                "hook_id": self.app.hook_id,
                "webhook_url": self.app.webhook_url,
                "setup_url": self.app.setup_url,
                "url": self.base_url,
                "api_url": self.api_url,
                "install_url": self.install_url(),
                "public_key_pem": self.public_key_pem,
            },
        )

    def control_credentials(self, request: Request) -> Response:
        """The App's secrets, for a separate process that configures the control plane (loopback only)."""
        return _json(
            200,
            {
                "private_key_pem": self.app.private_key_pem,
                "client_secret": self.app.client_secret,
                "webhook_secret": self.app.webhook_secret,
            },
        )

    def control_create_repo(self, request: Request) -> Response:
        body = _body(request)
        full_name = _field(body, "full_name", str)
        private = body.get("private", True)
        branch = body.get("default_branch", "main")
        if not isinstance(private, bool) or not isinstance(branch, str):
            raise invalid(
                "Repository", "private" if not isinstance(private, bool) else "default_branch", "wrong type"
            )
        return _json(201, self.create_repo(full_name, private=private, default_branch=branch))

    def control_push(self, request: Request, owner: str, name: str) -> Response:
        if request.content_length and request.content_length > CONTROL_MAX_BYTES:
            raise invalid("Push", "zip_base64", "the folder is over 64 MB")
        body = _body(request)
        branch = _field(body, "branch", str)
        try:
            files = store.read_zip(base64.b64decode(_field(body, "zip_base64", str), validate=True))
        except (binascii.Error, ValueError, OSError) as error:
            raise invalid("Push", "zip_base64", f"not a base64 zip: {error}") from error
        author = body.get("author")
        if author is not None and not isinstance(author, (str, dict)):
            raise invalid("Push", "author", "author is a login or {name, email, username}")
        message = body.get("message") or "Update"
        result = self._unlocked(
            lambda: self.push(f"{owner}/{name}", branch, None, str(message), author, files=files)
        )
        return _json(201, dict(result))

    def control_delete_branch(self, request: Request, owner: str, name: str, branch: str) -> Response:
        return _json(200, dict(self._unlocked(lambda: self.delete_branch(f"{owner}/{name}", branch))))

    def control_push_tag(self, request: Request, owner: str, name: str) -> Response:
        body = _body(request)
        tag, ref = _field(body, "tag", str), _field(body, "ref", str)
        return _json(201, dict(self._unlocked(lambda: self.push_tag(f"{owner}/{name}", tag, ref))))

    def control_deployments(self, request: Request, owner: str, name: str) -> Response:
        record = self.repo(f"{owner}/{name}")
        shown = []
        for item in records.list_deployments(self, record, {}):
            statuses = [
                records.deployment_status_json(self, s) for s in records.deployment_statuses(self, item["id"])
            ]
            shown.append(
                {
                    **records.deployment_json(self, item),
                    "auto_merge": item["auto_merge"],
                    "required_contexts": item["required_contexts"],
                    "statuses": statuses,
                }
            )
        return _json(200, shown)

    def control_statuses(self, request: Request, owner: str, name: str) -> Response:
        record = self.repo(f"{owner}/{name}")
        found = [s for s in self.state.statuses if s["repo"] == record["full_name"]]
        return _json(200, [{**records.status_json(self, s), "sha": s["sha"]} for s in reversed(found)])

    def control_install(self, request: Request) -> Response:
        body = _body(request)
        account, user = _field(body, "account", str), _field(body, "user", str)
        repositories = body.get("repositories")
        if repositories is not None and not (
            isinstance(repositories, list) and all(isinstance(r, str) for r in repositories)
        ):
            raise invalid("Installation", "repositories", "repositories is a list of names, or null for all")
        state = body.get("state")
        if state is not None and not isinstance(state, str):
            raise invalid("Installation", "state", "state must be a string")
        return _json(201, self._unlocked(lambda: self.install(account, repositories, user=user, state=state)))

    def control_delete_installation(self, request: Request, iid: int) -> Response:
        return _json(200, self._unlocked(lambda: self.set_installation(iid, "deleted")))

    def control_suspend(self, request: Request, iid: int, action: str) -> Response:
        return _json(200, self._unlocked(lambda: self.set_installation(iid, action)))

    def control_change_repos(self, request: Request, iid: int) -> Response:
        body = _body(request)
        add, remove = body.get("add", []), body.get("remove", [])
        for field, value in (("add", add), ("remove", remove)):
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise invalid("Installation", field, f"{field} is a list of repository names")
        return _json(200, self._unlocked(lambda: self.change_repositories(iid, add=add, remove=remove)))

    def control_deliveries(self, request: Request) -> Response:
        shown = [
            {**summary(d), "answer": d["answer"], "payload": json.loads(d["body"])} for d in self.deliveries()
        ]
        return _json(200, shown)

    def control_add_fault(self, request: Request) -> Response:
        body = _body(request)
        if "target_down" in body:
            self.faults.target_down(_field(body, "target_down", int))
            return _json(201, self.faults.pending())
        kind = _field(body, "kind", str)
        if kind not in KINDS:
            raise invalid("Fault", "kind", f"kind must be one of {', '.join(KINDS)}")
        fault = Fault(
            method=str(body.get("method", "*")).upper(),
            path=_field(body, "path", str),
            kind=kind,
            remaining=int(body.get("count", 1)),
            status=int(body.get("status", 502)),
            retry_after=int(body.get("retry_after", 60)),
        )  # type: ignore[arg-type]
        self.faults.add(fault)
        return _json(201, self.faults.pending())

    def control_clear_faults(self, request: Request) -> Response:
        self.faults.clear()
        return Response(b"", 204)

    def control_setup_landing(self, request: Request) -> Response:
        return _json(200, {"setup": dict(request.args)})

    def _unlocked(self, action: Any) -> Any:
        """Run an action that delivers webhooks without holding the request lock: the receiver may
        call back into this server while it handles the delivery."""
        self._lock.release()
        try:
            return action()
        finally:
            self._lock.acquire()


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status, headers=headers or {}, content_type="application/json; charset=utf-8"
    )


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except ValueError as error:
        raise GitHubError(400, "Problems parsing JSON") from error
    if not isinstance(body, dict):
        raise GitHubError(400, "Body should be a JSON object")
    return body


def _field(body: dict[str, Any], name: str, kind: type) -> Any:
    value = body.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise invalid("Request", name, f"{name} is required ({kind.__name__})", "missing_field")
    return value


def _int_arg(request: Request, name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError as error:
        raise invalid("Request", name, f"{name} must be an integer") from error
