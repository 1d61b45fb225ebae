"""GitHub's JSON shapes for what the local GitHub keeps: every field GitHub's schema requires
(githubkit's generated models parse them), URLs under this server's base URL."""

from __future__ import annotations

import difflib
from typing import Any

from infra.local.github import store
from infra.local.github.store import AppConfig, State


class Shapes:
    """Rendering only; ``GitHubCore`` supplies the state, the App and the base URL."""

    state: State
    base_url: str

    @property
    def app(self) -> AppConfig:
        return self.state.app

    def repo_json(self, record: dict[str, Any]) -> dict[str, Any]:
        """GitHub's full repository shape (every field its schema requires)."""
        api = f"{self.base_url}/repos/{record['full_name']}"
        html = f"{self.base_url}/{record['full_name']}"
        templated = {
            "archive_url": "/{archive_format}{/ref}",
            "assignees_url": "/assignees{/user}",
            "blobs_url": "/git/blobs{/sha}",
            "branches_url": "/branches{/branch}",
            "collaborators_url": "/collaborators{/collaborator}",
            "comments_url": "/comments{/number}",
            "commits_url": "/commits{/sha}",
            "compare_url": "/compare/{base}...{head}",
            "contents_url": "/contents/{+path}",
            "contributors_url": "/contributors",
            "deployments_url": "/deployments",
            "downloads_url": "/downloads",
            "events_url": "/events",
            "forks_url": "/forks",
            "git_commits_url": "/git/commits{/sha}",
            "git_refs_url": "/git/refs{/sha}",
            "git_tags_url": "/git/tags{/sha}",
            "issue_comment_url": "/issues/comments{/number}",
            "issue_events_url": "/issues/events{/number}",
            "issues_url": "/issues{/number}",
            "keys_url": "/keys{/key_id}",
            "labels_url": "/labels{/name}",
            "languages_url": "/languages",
            "merges_url": "/merges",
            "milestones_url": "/milestones{/number}",
            "notifications_url": "/notifications{?since,all,participating}",
            "pulls_url": "/pulls{/number}",
            "releases_url": "/releases{/id}",
            "stargazers_url": "/stargazers",
            "statuses_url": "/statuses/{sha}",
            "subscribers_url": "/subscribers",
            "subscription_url": "/subscription",
            "tags_url": "/tags",
            "teams_url": "/teams",
            "trees_url": "/git/trees{/sha}",
            "hooks_url": "/hooks",
        }
        host = self.base_url.split("://", 1)[-1]
        return {
            "id": record["id"],
            "node_id": f"R_{record['id']}",
            "name": record["name"],
            "full_name": record["full_name"],
            "private": record["private"],
            "owner": self.account_json(record["owner"]),
            "html_url": html,
            "description": None,
            "fork": False,
            "url": api,
            **{key: api + path for key, path in templated.items()},
            "git_url": f"git://{host}/{record['full_name']}.git",
            "ssh_url": f"git@{host}:{record['full_name']}.git",
            "clone_url": f"{html}.git",
            "svn_url": html,
            "mirror_url": None,
            "homepage": None,
            "language": None,
            "forks_count": 0,
            "stargazers_count": 0,
            "watchers_count": 0,
            "size": 0,
            "default_branch": record["default_branch"],
            "open_issues_count": 0,
            "is_template": False,
            "topics": [],
            "has_issues": True,
            "has_projects": False,
            "has_wiki": False,
            "has_pages": False,
            "has_discussions": False,
            "has_downloads": False,
            "archived": False,
            "disabled": False,
            "visibility": "private" if record["private"] else "public",
            "pushed_at": record["pushed_at"],
            "created_at": record["created_at"],
            "updated_at": record["pushed_at"] or record["created_at"],
            "subscribers_count": 0,
            "network_count": 0,
            "license": None,
            "forks": 0,
            "open_issues": 0,
            "watchers": 0,
            "allow_forking": True,
            "web_commit_signoff_required": False,
        }

    def account_json(self, login: str) -> dict[str, Any]:
        """GitHub's simple-user shape."""
        account = self.state.accounts[login]
        url = f"{self.base_url}/users/{login}"
        return {
            "login": login,
            "id": account["id"],
            "node_id": f"U_{account['id']}",
            "avatar_url": f"{self.base_url}/avatars/{login}",
            "gravatar_id": "",
            "url": url,
            "html_url": f"{self.base_url}/{login}",
            "followers_url": f"{url}/followers",
            "following_url": f"{url}/following{{/other_user}}",
            "gists_url": f"{url}/gists{{/gist_id}}",
            "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{url}/subscriptions",
            "organizations_url": f"{url}/orgs",
            "repos_url": f"{url}/repos",
            "events_url": f"{url}/events{{/privacy}}",
            "received_events_url": f"{url}/received_events",
            "type": account["type"],
            "site_admin": False,
        }

    def commit_json(self, record: dict[str, Any], sha: str) -> dict[str, Any]:
        commit = self.state.commits[sha]
        who = commit["author"]
        person = {"name": who["name"], "email": who["email"], "date": commit["timestamp"]}
        user = self.account_json(who["username"]) if who["username"] in self.state.accounts else None
        api = f"{self.base_url}/repos/{record['full_name']}"
        return {
            "sha": sha,
            "node_id": f"C_{sha}",
            "comments_url": f"{api}/commits/{sha}/comments",
            "url": f"{api}/commits/{sha}",
            "html_url": f"{self.base_url}/{record['full_name']}/commit/{sha}",
            "commit": {
                "author": person,
                "committer": person,
                "message": commit["message"],
                "tree": {"sha": store.tree_sha(commit["tree"]), "url": f"{api}/git/trees/{sha}"},
                "url": f"{api}/git/commits/{sha}",
                "comment_count": 0,
            },
            "author": user,
            "committer": user,
            "parents": [{"sha": parent, "url": f"{api}/commits/{parent}"} for parent in commit["parents"]],
            "files": self._diff_entries(record, commit),
        }

    def _diff_entries(self, record: dict[str, Any], commit: dict[str, Any]) -> list[dict[str, Any]]:
        """GitHub's diff-entry list against the first parent, line counts from difflib."""
        parent = self.state.commits.get(commit["parents"][0]) if commit["parents"] else None
        old, new = (parent["tree"] if parent else {}), commit["tree"]
        entries = []
        for path in sorted(set(old) | set(new)):
            if old.get(path) == new.get(path):
                continue
            before = store.tree_files(self.state, {path: old[path]})[path] if path in old else b""
            after = store.tree_files(self.state, {path: new[path]})[path] if path in new else b""
            lines = list(
                difflib.ndiff(
                    before.decode(errors="replace").splitlines(), after.decode(errors="replace").splitlines()
                )
            )
            additions = sum(line.startswith("+ ") for line in lines)
            deletions = sum(line.startswith("- ") for line in lines)
            status = "added" if path not in old else "removed" if path not in new else "modified"
            raw = f"{self.base_url}/{record['full_name']}/raw/{commit['sha']}/{path}"
            entries.append(
                {
                    "sha": new.get(path) or old[path],
                    "filename": path,
                    "status": status,
                    "additions": additions,
                    "deletions": deletions,
                    "changes": additions + deletions,
                    "raw_url": raw,
                    "blob_url": raw.replace("/raw/", "/blob/"),
                    "contents_url": f"{self.base_url}/repos/{record['full_name']}/contents/{path}"
                    f"?ref={commit['sha']}",
                }
            )
        return entries

    def installation_json(self, inst: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": inst["id"],
            "account": self.account_json(inst["account"]),
            "repository_selection": inst["repository_selection"],
            "access_tokens_url": f"{self.base_url}/app/installations/{inst['id']}/access_tokens",
            "repositories_url": f"{self.base_url}/installation/repositories",
            "html_url": f"{self.base_url}/organizations/{inst['account']}/settings/installations/"
            f"{inst['id']}",
            "app_id": self.app.app_id,
            "app_slug": self.app.slug,
            "client_id": self.app.client_id,
            "target_id": self.state.accounts[inst["account"]]["id"],
            "target_type": self.state.accounts[inst["account"]]["type"],
            "permissions": dict(inst["permissions"]),
            "events": list(inst["events"]),
            "created_at": inst["created_at"],
            "updated_at": inst["updated_at"],
            "single_file_name": None,
            "suspended_at": inst["suspended_at"],
            "suspended_by": self.account_json(inst["suspended_by"]) if inst.get("suspended_by") else None,
        }

    def _short_repo(self, record: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": record["id"],
            "node_id": f"R_{record['id']}",
            "name": record["name"],
            "full_name": record["full_name"],
            "private": record["private"],
        }

    def _payload_commit(self, record: dict[str, Any], commit: dict[str, Any]) -> dict[str, Any]:
        parent = self.state.commits.get(commit["parents"][0]) if commit["parents"] else None
        old = parent["tree"] if parent else {}
        new = commit["tree"]
        return {
            "id": commit["sha"],
            "tree_id": store.tree_sha(new),
            "distinct": True,
            "message": commit["message"],
            "timestamp": commit["timestamp"],
            "url": f"{self.base_url}/{record['full_name']}/commit/{commit['sha']}",
            "author": dict(commit["author"]),
            "committer": dict(commit["author"]),
            "added": sorted(set(new) - set(old)),
            "removed": sorted(set(old) - set(new)),
            "modified": sorted(p for p in set(new) & set(old) if new[p] != old[p]),
        }
