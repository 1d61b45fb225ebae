"""What the local GitHub does, independent of HTTP: repositories and pushes, installations and
their webhooks, tokens, statuses and deployments. The REST and control APIs call these."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from infra.local.github import hooks, store
from infra.local.github.auth import (
    INSTALLATION_TOKEN_SECONDS,
    OAUTH_CODE_SECONDS,
    USER_TOKEN_SECONDS,
    covers,
    new_private_key_pem,
    new_token,
    public_key_pem,
    token_key,
)
from infra.local.github.errors import GitHubError, invalid, not_found
from infra.local.github.faults import Faults
from infra.local.github.shapes import Shapes
from infra.local.github.store import ZERO_SHA, AppConfig, State

log = logging.getLogger("stackpilot.local_github")

DELIVERY_RETENTION_SECONDS = 3 * 24 * 3600
ARCHIVE_LINK_SECONDS = 300
MAX_STATUSES_PER_CONTEXT = 1000


def iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class PushResult(dict[str, Any]):
    """``sha``, ``ref``, and per delivery: ``guid``, ``status_code``, ``answer`` (our receiver's body)."""

    @property
    def sha(self) -> str:
        return str(self["sha"])

    @property
    def deliveries(self) -> list[dict[str, Any]]:
        return list(self["deliveries"])


class GitHubCore(Shapes):
    def __init__(
        self,
        *,
        state_dir: Path | None = None,
        webhook_url: str | None = None,
        setup_url: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.clock = clock
        self.faults = Faults()
        self.base_url = "http://127.0.0.1"
        self._lock = threading.RLock()
        self._state_dir = Path(state_dir) if state_dir is not None else None
        loaded = store.load(self._state_dir) if self._state_dir is not None else None
        self.state = loaded or State(app=_new_app())
        if webhook_url is not None:
            self.state.app.webhook_url = webhook_url
        if setup_url is not None:
            self.state.app.setup_url = setup_url
        self.public_key_pem = public_key_pem(self.state.app.private_key_pem)
        self._save()

    def configure(self, *, webhook_url: str | None = None, setup_url: str | None = None) -> None:
        with self._lock:
            if webhook_url is not None:
                self.app.webhook_url = webhook_url
            if setup_url is not None:
                self.app.setup_url = setup_url
            self._save()

    def _save(self) -> None:
        if self._state_dir is not None:
            store.save(self.state, self._state_dir)

    # --- repositories and pushes ---------------------------------------------------------------

    def create_repo(
        self, full_name: str, *, private: bool = True, default_branch: str = "main"
    ) -> dict[str, Any]:
        owner, name = _split(full_name)
        with self._lock:
            if full_name in self.state.repos:
                return self.repo_json(self.state.repos[full_name])
            account = self.state.account(owner)
            repo = {
                "id": self.state.new_id(),
                "name": name,
                "full_name": full_name,
                "owner": account["login"],
                "private": private,
                "default_branch": default_branch,
                "branches": {},
                "tags": {},
                "history": {},
                "created_at": iso(self.clock()),
                "pushed_at": None,
            }
            self.state.repos[full_name] = repo
            self._save()
            log.info("local github: repository %s created", full_name)
            return self.repo_json(repo)

    def repo(self, full_name: str) -> dict[str, Any]:
        repo = self.state.repos.get(full_name)
        if repo is None:
            raise not_found()
        return repo

    def push(
        self,
        repo: str,
        branch: str,
        folder: Path | None = None,
        message: str = "Update",
        author: dict[str, str] | str | None = None,
        *,
        files: dict[str, bytes] | None = None,
    ) -> PushResult:
        """Commit the folder's files (or ``files``) as a new commit on ``branch`` and deliver ``push``."""
        content = (
            files if files is not None else store.read_folder(Path(folder)) if folder is not None else {}
        )
        who = _author(author)
        with self._lock:
            if repo not in self.state.repos:
                self.create_repo(repo, default_branch=branch)
            record = self.repo(repo)
            before = record["branches"].get(branch, ZERO_SHA)
            parents = [] if before == ZERO_SHA else [before]
            sha = self._commit(record, parents, content, message, who)
            record["branches"][branch] = sha
            record["history"].setdefault(branch, []).append(sha)
            record["pushed_at"] = iso(self.clock())
            self._save()
            payload = self._push_payload(record, f"refs/heads/{branch}", before, sha, who)
        log.info("local github: pushed %s to %s@%s", sha[:7], repo, branch)
        return self._deliver_push(record, sha, payload)

    def delete_branch(self, repo: str, branch: str, *, sender: str | None = None) -> PushResult:
        with self._lock:
            record = self.repo(repo)
            before = record["branches"].pop(branch, None)
            if before is None:
                raise invalid("Reference", "ref", f"Reference does not exist: refs/heads/{branch}")
            self._save()
            payload = self._push_payload(record, f"refs/heads/{branch}", before, ZERO_SHA, _author(sender))
        return self._deliver_push(record, ZERO_SHA, payload)

    def push_tag(self, repo: str, tag: str, ref: str, *, sender: str | None = None) -> PushResult:
        with self._lock:
            record = self.repo(repo)
            sha = self.resolve(record, ref)
            if tag in record["tags"]:
                raise invalid("Reference", "ref", "Reference already exists")
            record["tags"][tag] = sha
            self._save()
            payload = self._push_payload(record, f"refs/tags/{tag}", ZERO_SHA, sha, _author(sender))
            payload["base_ref"] = None
        return self._deliver_push(record, sha, payload)

    def _commit(
        self,
        record: dict[str, Any],
        parents: list[str],
        files: dict[str, bytes],
        message: str,
        who: dict[str, str],
    ) -> str:
        tree = store.put_blobs(self.state, files)
        timestamp = iso(self.clock())
        meta = {
            "repo": record["full_name"],
            "message": message,
            "author": who,
            "timestamp": timestamp,
            "nonce": secrets.token_hex(4),
        }
        sha = store.commit_sha(parents, tree, meta)
        self.state.commits[sha] = {
            "sha": sha,
            "repo": record["full_name"],
            "parents": parents,
            "tree": tree,
            "message": message,
            "author": who,
            "timestamp": timestamp,
        }
        return sha

    def resolve(self, record: dict[str, Any], ref: str) -> str:
        """A branch, tag, ``heads/x``/``tags/x``, or a (short) sha of this repository -> the sha."""
        for prefix in ("refs/", "heads/", "tags/"):
            if ref.startswith(prefix) and prefix != "refs/":
                table = record["branches"] if prefix == "heads/" else record["tags"]
                if ref[len(prefix) :] in table:
                    return str(table[ref[len(prefix) :]])
            ref = ref.removeprefix("refs/")
        if ref in record["branches"]:
            return str(record["branches"][ref])
        if ref in record["tags"]:
            return str(record["tags"][ref])
        if len(ref) >= 7:
            matches = [
                sha
                for sha, commit in self.state.commits.items()
                if sha.startswith(ref.lower()) and commit["repo"] == record["full_name"]
            ]
            if len(matches) == 1:
                return matches[0]
        raise GitHubError(422, f"No commit found for SHA: {ref}")

    def files_at(self, sha: str) -> dict[str, bytes]:
        return store.tree_files(self.state, self.state.commits[sha]["tree"])

    # --- installations -------------------------------------------------------------------------

    def installation(self, installation_id: int | str) -> dict[str, Any]:
        inst = self.state.installations.get(str(installation_id))
        if inst is None:
            raise not_found()
        return inst

    def visible_repos(self, inst: dict[str, Any]) -> list[dict[str, Any]]:
        if inst["repository_selection"] == "all":
            return [repo for repo in self.state.repos.values() if repo["owner"] == inst["account"]]
        ids = set(inst["repository_ids"])
        return [repo for repo in self.state.repos.values() if repo["id"] in ids]

    def installations_seeing(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            inst
            for inst in self.state.installations.values()
            if inst["suspended_at"] is None and record in self.visible_repos(inst)
        ]

    def install(
        self,
        account: str,
        repositories: Iterable[str] | None,
        *,
        user: str,
        state: str | None = None,
    ) -> dict[str, Any]:
        """The browser's install step: create (or update) the installation on ``account`` with these
        repositories (None = all), issue a one-time OAuth code for ``user``, and answer the setup
        redirect: ``{installation_id, code, setup_action, redirect_url, deliveries}``."""
        with self._lock:
            self.state.account(account)
            self.state.account(user, "User")
            records = (
                None if repositories is None else [self._owned_repo(account, name) for name in repositories]
            )
            existing = next((i for i in self.state.installations.values() if i["account"] == account), None)
            events: list[tuple[str, dict[str, Any]]] = []
            if existing is None:
                inst = self._new_installation(account, records, user)
                payload = {
                    "action": "created",
                    "installation": self.installation_json(inst),
                    "repositories": [self._short_repo(r) for r in self.visible_repos(inst)],
                    "requester": None,
                    "sender": self.account_json(user),
                }
                events.append(("installation", payload))
            else:
                inst = existing
                if user not in inst["users"]:
                    inst["users"].append(user)
                events.extend(self._change_repos(inst, records, user))
            code = new_token("")[:20]
            self.state.codes[token_key(code)] = {
                "user": user,
                "installation_id": inst["id"],
                "expires_at": self.clock() + OAUTH_CODE_SECONDS,
            }
            self._save()
        deliveries = [self._deliver(event, payload, inst["id"], None) for event, payload in events]
        action = "install" if existing is None else "update"
        query = {"installation_id": str(inst["id"]), "code": code, "setup_action": action}
        if state is not None:
            query["state"] = state
        setup = self.app.setup_url or f"{self.base_url}/_local/setup-landing"
        redirect = f"{setup}{'&' if '?' in setup else '?'}{urlencode(query)}"
        return {
            "installation_id": inst["id"],
            "code": code,
            "setup_action": action,
            "redirect_url": redirect,
            "deliveries": deliveries,
        }

    def _owned_repo(self, account: str, name: str) -> dict[str, Any]:
        full_name = name if "/" in name else f"{account}/{name}"
        if full_name.split("/")[0] != account:
            raise invalid("Installation", "repositories", f"{full_name} is not owned by {account}")
        if full_name not in self.state.repos:
            self.create_repo(full_name)
        return self.state.repos[full_name]

    def _new_installation(
        self, account: str, records: list[dict[str, Any]] | None, user: str
    ) -> dict[str, Any]:
        now = iso(self.clock())
        inst = {
            "id": self.state.new_id(),
            "account": account,
            "repository_selection": "all" if records is None else "selected",
            "repository_ids": [r["id"] for r in records or []],
            "permissions": dict(self.app.permissions),
            "events": list(self.app.events),
            "suspended_at": None,
            "suspended_by": None,
            "users": [user],
            "created_at": now,
            "updated_at": now,
        }
        self.state.installations[str(inst["id"])] = inst
        return inst

    def _change_repos(
        self, inst: dict[str, Any], records: list[dict[str, Any]] | None, sender: str
    ) -> list[tuple[str, dict[str, Any]]]:
        before = {r["id"]: r for r in self.visible_repos(inst)}
        inst["repository_selection"] = "all" if records is None else "selected"
        inst["repository_ids"] = [r["id"] for r in records or []]
        inst["updated_at"] = iso(self.clock())
        after = {r["id"]: r for r in self.visible_repos(inst)}
        added = [self._short_repo(after[i]) for i in after if i not in before]
        removed = [self._short_repo(before[i]) for i in before if i not in after]
        if not added and not removed:
            return []
        payload = {
            "action": "added" if added else "removed",
            "installation": self.installation_json(inst),
            "repository_selection": inst["repository_selection"],
            "repositories_added": added,
            "repositories_removed": removed,
            "requester": None,
            "sender": self.account_json(sender),
        }
        if added and removed:  # GitHub sends one event per action
            return [
                ("installation_repositories", {**payload, "action": "added", "repositories_removed": []}),
                ("installation_repositories", {**payload, "action": "removed", "repositories_added": []}),
            ]
        return [("installation_repositories", payload)]

    def change_repositories(
        self,
        installation_id: int,
        *,
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        sender: str | None = None,
    ) -> list[dict[str, Any]]:
        with self._lock:
            inst = self.installation(installation_id)
            sender = sender or inst["users"][0]
            current = {r["full_name"] for r in self.visible_repos(inst)}
            wanted = (current | {self._owned_repo(inst["account"], n)["full_name"] for n in add}) - {
                n if "/" in n else f"{inst['account']}/{n}" for n in remove
            }
            events = self._change_repos(inst, [self.state.repos[n] for n in sorted(wanted)], sender)
            self._save()
        return [self._deliver(event, payload, inst["id"], None) for event, payload in events]

    def set_installation(
        self, installation_id: int, action: str, *, sender: str | None = None
    ) -> dict[str, Any]:
        """``deleted``, ``suspend`` or ``unsuspend`` the installation; delivers ``installation``."""
        if action not in {"deleted", "suspend", "unsuspend"}:
            raise invalid("Installation", "action", "action must be deleted, suspend or unsuspend")
        with self._lock:
            inst = self.installation(installation_id)
            sender = sender or inst["users"][0]
            self.state.account(sender, "User")
            now = iso(self.clock())
            if action == "deleted":
                del self.state.installations[str(inst["id"])]
                self._revoke(lambda grant: grant.get("installation_id") == inst["id"])
            else:
                inst["suspended_at"] = now if action == "suspend" else None
                inst["suspended_by"] = sender if action == "suspend" else None
            inst["updated_at"] = now
            payload = {
                "action": action,
                "installation": self.installation_json(inst),
                "repositories": [self._short_repo(r) for r in self.visible_repos(inst)],
                "requester": None,
                "sender": self.account_json(sender),
            }
            self._save()
        return self._deliver("installation", payload, inst["id"], None)

    def _revoke(self, matches: Callable[[dict[str, Any]], bool]) -> None:
        for key in [key for key, grant in self.state.tokens.items() if matches(grant)]:
            del self.state.tokens[key]

    # --- tokens --------------------------------------------------------------------------------

    def create_installation_token(self, installation_id: int, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            inst = self.installation(installation_id)
            if inst["suspended_at"] is not None:
                raise GitHubError(403, "This installation has been suspended")
            visible = self.visible_repos(inst)
            chosen = self._narrow_repos(visible, body)
            permissions = dict(inst["permissions"])
            asked = body.get("permissions")
            if asked is not None:
                if not isinstance(asked, dict) or not all(
                    isinstance(level, str) and level in {"read", "write", "admin"} for level in asked.values()
                ):
                    raise invalid(
                        "Installation", "permissions", "permissions must map names to read or write"
                    )
                if not all(covers(inst["permissions"], name, level) for name, level in asked.items()):
                    raise GitHubError(422, "The permissions requested are not granted to this installation.")
                permissions = {name: str(level) for name, level in asked.items()}
            token = new_token("ghs_")
            expires = self.clock() + INSTALLATION_TOKEN_SECONDS
            self.state.tokens[token_key(token)] = {
                "kind": "installation",
                "installation_id": inst["id"],
                "expires_at": expires,
                "repository_ids": None if chosen is None else [r["id"] for r in chosen],
                "permissions": permissions,
            }
            self._save()
            answer: dict[str, Any] = {
                "token": token,
                "expires_at": iso(expires),
                "permissions": permissions,
                "repository_selection": "selected" if chosen is not None else inst["repository_selection"],
            }
            shown = (
                chosen
                if chosen is not None
                else visible
                if inst["repository_selection"] == "selected"
                else None
            )
            if shown is not None:
                answer["repositories"] = [self.repo_json(r) for r in shown]
            return answer

    def _narrow_repos(
        self, visible: list[dict[str, Any]], body: dict[str, Any]
    ) -> list[dict[str, Any]] | None:
        names, ids = body.get("repositories"), body.get("repository_ids")
        if names is None and ids is None:
            return None
        chosen: dict[int, dict[str, Any]] = {}
        for field, values, key in (("repositories", names, "name"), ("repository_ids", ids, "id")):
            if values is None:
                continue
            if not isinstance(values, list) or len(values) > 500:
                raise invalid("Installation", field, f"{field} must be a list of at most 500 items")
            for value in values:
                match = [r for r in visible if r[key] == value or (key == "name" and r["full_name"] == value)]
                if not match:
                    raise GitHubError(
                        422,
                        "There is at least one repository that does not exist or is not accessible "
                        "to the parent installation.",
                    )
                chosen[match[0]["id"]] = match[0]
        return list(chosen.values())

    def grant(self, token: str) -> dict[str, Any] | None:
        grant = self.state.tokens.get(token_key(token))
        if grant is None or grant["expires_at"] <= self.clock():
            return None
        return grant

    def token_repos(self, grant: dict[str, Any]) -> list[dict[str, Any]]:
        inst = self.state.installations.get(str(grant["installation_id"]))
        if inst is None or inst["suspended_at"] is not None:
            return []
        visible = self.visible_repos(inst)
        if grant["repository_ids"] is None:
            return visible
        return [r for r in visible if r["id"] in grant["repository_ids"]]

    def exchange_code(self, client_id: str, client_secret: str, code: str) -> dict[str, Any]:
        """OAuth's code -> user token; GitHub answers errors with 200 and an ``error`` field."""
        with self._lock:
            if client_id != self.app.client_id or not hmac.compare_digest(
                client_secret.encode(), self.app.client_secret.encode()
            ):
                return {
                    "error": "incorrect_client_credentials",
                    "error_description": "The client_id and/or client_secret passed are incorrect.",
                }
            pending = self.state.codes.pop(token_key(code), None)
            if pending is None or pending["expires_at"] <= self.clock():
                self._save()
                return {
                    "error": "bad_verification_code",
                    "error_description": "The code passed is incorrect or expired.",
                }
            token, refresh = new_token("ghu_"), new_token("ghr_")
            self.state.tokens[token_key(token)] = {
                "kind": "user",
                "user": pending["user"],
                "expires_at": self.clock() + USER_TOKEN_SECONDS,
                "installation_id": None,
                "repository_ids": None,
                "permissions": {},
            }
            self._save()
            return {
                "access_token": token,
                "expires_in": USER_TOKEN_SECONDS,
                "refresh_token": refresh,
                "refresh_token_expires_in": 15897600,
                "scope": "",
                "token_type": "bearer",
            }

    def user_installations(self, user: str) -> list[dict[str, Any]]:
        return [self.installation_json(i) for i in self.state.installations.values() if user in i["users"]]

    # --- webhooks ------------------------------------------------------------------------------

    def _push_payload(
        self, record: dict[str, Any], ref: str, before: str, after: str, who: dict[str, str]
    ) -> dict[str, Any]:
        deleted, created = after == ZERO_SHA, before == ZERO_SHA
        commits: list[dict[str, Any]] = []
        if not deleted and ref.startswith("refs/heads/"):
            commit = self.state.commits[after]
            commits = [self._payload_commit(record, commit)]
        head = None if deleted else self._payload_commit(record, self.state.commits[after])
        forced = not created and not deleted and before not in store.ancestors(self.state, after)
        self.state.account(who["username"], "User")
        return {
            "ref": ref,
            "before": before,
            "after": after,
            "created": created,
            "deleted": deleted,
            "forced": forced,
            "base_ref": None,
            "compare": f"{self.base_url}/{record['full_name']}/compare/{before[:12]}...{after[:12]}",
            "commits": commits,
            "head_commit": head,
            "repository": {**self.repo_json(record), "master_branch": record["default_branch"]},
            "pusher": {"name": who["username"], "email": who["email"]},
            "sender": self.account_json(who["username"]),
        }

    def _deliver_push(self, record: dict[str, Any], sha: str, payload: dict[str, Any]) -> PushResult:
        deliveries = []
        for inst in self.installations_seeing(record):
            body = {**payload, "installation": {"id": inst["id"], "node_id": f"I_{inst['id']}"}}
            deliveries.append(self._deliver("push", body, inst["id"], record["id"]))
        return PushResult(sha=sha, ref=payload["ref"], deliveries=deliveries)

    def _deliver(
        self, event: str, payload: dict[str, Any], installation_id: int, repository_id: int | None
    ) -> dict[str, Any]:
        body = json.dumps(payload, separators=(",", ":")).encode()
        with self._lock:
            delivery = {
                "id": self.state.new_id(),
                "guid": hooks.new_guid(),
                "event": event,
                "action": payload.get("action"),
                "installation_id": installation_id,
                "repository_id": repository_id,
                "body": body.decode(),
                "redelivery": False,
            }
        return self._attempt(delivery)

    def _attempt(self, delivery: dict[str, Any]) -> dict[str, Any]:
        body = delivery["body"].encode()
        headers = hooks.headers(
            secret=self.app.webhook_secret,
            body=body,
            event=delivery["event"],
            guid=delivery["guid"],
            hook_id=self.app.hook_id,
            app_id=self.app.app_id,
        )
        started = self.clock()
        attempt = hooks.post(self.app.webhook_url, body, headers, target_down=self.faults.take_target_down())
        with self._lock:
            record = {
                **delivery,
                "delivered_at": iso(started),
                "at": started,
                "duration": round(attempt.duration, 3),
                "status": attempt.status,
                "status_code": attempt.status_code,
                "answer": attempt.answer,
                "answer_headers": attempt.answer_headers,
            }
            self.state.deliveries.append(record)
            self._save()
        log.info(
            "local github: delivered %s %s -> %s", delivery["event"], delivery["guid"], attempt.status_code
        )
        return {
            "id": record["id"],
            "guid": record["guid"],
            "event": record["event"],
            "status_code": attempt.status_code,
            "status": attempt.status,
            "answer": attempt.answer,
        }

    def deliveries(self) -> list[dict[str, Any]]:
        """Newest first; deliveries older than 3 days have dropped out."""
        with self._lock:
            horizon = self.clock() - DELIVERY_RETENTION_SECONDS
            kept = [d for d in self.state.deliveries if d["at"] >= horizon]
            if len(kept) != len(self.state.deliveries):
                self.state.deliveries = kept
                self._save()
            return sorted(kept, key=lambda d: d["id"], reverse=True)

    def redeliver(self, delivery_id: int) -> dict[str, Any]:
        original = next((d for d in self.deliveries() if d["id"] == delivery_id), None)
        if original is None:
            raise not_found()
        with self._lock:
            again = {
                key: original[key]
                for key in ("guid", "event", "action", "installation_id", "repository_id", "body")
            }
            again.update(id=self.state.new_id(), redelivery=True)
        return self._attempt(again)


def _new_app() -> AppConfig:
    return AppConfig(
        app_id=secrets.randbelow(900000) + 100000,
        slug="stackpilot-local",
        client_id="Iv23" + new_token("")[:16],
        client_secret=secrets.token_hex(20),
        webhook_secret=secrets.token_hex(20),
        private_key_pem=new_private_key_pem(),
    )


def _split(full_name: str) -> tuple[str, str]:
    parts = full_name.split("/")
    if len(parts) != 2 or not all(parts):
        raise invalid("Repository", "repo", f"{full_name!r} is not owner/name")
    return parts[0], parts[1]


def _author(author: dict[str, str] | str | None) -> dict[str, str]:
    if isinstance(author, dict):
        login = author.get("username") or author.get("login") or "octocat"
        return {
            "name": author.get("name", login),
            "email": author.get("email", f"{login}@users.noreply.local"),
            "username": login,
        }
    login = author or "octocat"
    return {"name": login, "email": f"{login}@users.noreply.local", "username": login}
