"""Commit statuses and deployments (with their statuses), shaped as GitHub's REST API answers them."""

from __future__ import annotations

from typing import Any

from infra.local.github import store
from infra.local.github.core import MAX_STATUSES_PER_CONTEXT, GitHubCore, iso
from infra.local.github.errors import GitHubError, invalid

STATUS_STATES = ("error", "failure", "pending", "success")
DEPLOYMENT_STATES = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
MAX_DESCRIPTION = 140


def create_status(
    gh: GitHubCore, record: dict[str, Any], sha: str, body: dict[str, Any], creator: str
) -> dict[str, Any]:
    state = body.get("state")
    if state not in STATUS_STATES:
        raise invalid("Status", "state", f"state must be one of {', '.join(STATUS_STATES)}", "invalid")
    if sha not in gh.state.commits or gh.state.commits[sha]["repo"] != record["full_name"]:
        raise GitHubError(422, f"No commit found for SHA: {sha}")
    context = body.get("context") or "default"
    for name in ("target_url", "description", "context"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid("Status", name, f"{name} must be a string", "invalid")
    same = [
        s
        for s in gh.state.statuses
        if s["repo"] == record["full_name"] and s["sha"] == sha and s["context"] == context
    ]
    if len(same) >= MAX_STATUSES_PER_CONTEXT:
        raise invalid("Status", "context", "This SHA and context has reached the maximum number of statuses.")
    now = iso(gh.clock())
    status = {
        "id": gh.state.new_id(),
        "repo": record["full_name"],
        "sha": sha,
        "state": state,
        "target_url": body.get("target_url"),
        "description": body.get("description"),
        "context": context,
        "created_at": now,
        "updated_at": now,
        "creator": creator,
    }
    gh.state.statuses.append(status)
    return status_json(gh, status)


def status_json(gh: GitHubCore, status: dict[str, Any]) -> dict[str, Any]:
    shown = {
        k: status[k]
        for k in ("id", "state", "target_url", "description", "context", "created_at", "updated_at")
    }
    return {
        **shown,
        "url": f"{gh.base_url}/repos/{status['repo']}/statuses/{status['sha']}",
        "node_id": f"SC_{status['id']}",
        "avatar_url": None,
        "creator": _creator(gh, status["creator"]),
    }


def statuses_for(gh: GitHubCore, record: dict[str, Any], sha: str) -> list[dict[str, Any]]:
    """Newest first, as ``GET /repos/{o}/{r}/commits/{ref}/statuses`` lists them."""
    found = [s for s in gh.state.statuses if s["repo"] == record["full_name"] and s["sha"] == sha]
    return sorted(found, key=lambda s: s["id"], reverse=True)


def latest_by_context(gh: GitHubCore, record: dict[str, Any], sha: str) -> dict[str, str]:
    latest: dict[str, str] = {}
    for status in statuses_for(gh, record, sha):
        latest.setdefault(status["context"], status["state"])
    return latest


def combined(gh: GitHubCore, record: dict[str, Any], sha: str) -> dict[str, Any]:
    latest = [
        next(s for s in statuses_for(gh, record, sha) if s["context"] == c)
        for c in latest_by_context(gh, record, sha)
    ]
    states = {s["state"] for s in latest}
    state = (
        "failure"
        if states & {"failure", "error"}
        else "pending"
        if "pending" in states or not states
        else "success"
    )
    return {
        "state": state,
        "sha": sha,
        "total_count": len(latest),
        "statuses": [status_json(gh, s) for s in latest],
        "repository": gh.repo_json(record),
    }


def create_deployment(
    gh: GitHubCore, record: dict[str, Any], body: dict[str, Any], creator: str
) -> tuple[int, dict[str, Any]]:
    ref = body.get("ref")
    if not isinstance(ref, str) or not ref:
        raise invalid("Deployment", "ref", "ref is a required string", "missing_field")
    _check_types(body)
    auto_merge = body.get("auto_merge", True)
    if ref in record["branches"] and auto_merge:
        merged = _auto_merge(gh, record, ref, creator)
        if merged is not None:
            return 202, {"message": f"Auto-merged {record['default_branch']} into {ref} on deployment."}
    sha = gh.resolve(record, ref)
    required = body.get("required_contexts")
    latest = latest_by_context(gh, record, sha)
    contexts = list(latest) if required is None else list(required)
    failing = [
        {"context": c, "state": latest.get(c, "missing")} for c in contexts if latest.get(c) != "success"
    ]
    if failing:
        raise GitHubError(
            409,
            f"Conflict: Commit status checks failed for {ref}.",
            errors=[
                {
                    "contexts": failing,
                    "resource": "Deployment",
                    "field": "required_contexts",
                    "code": "invalid",
                }
            ],
        )
    environment = body.get("environment") or "production"
    now = iso(gh.clock())
    deployment = {
        "id": gh.state.new_id(),
        "repo": record["full_name"],
        "sha": sha,
        "ref": ref,
        "task": body.get("task") or "deploy",
        "payload": body.get("payload") or {},
        "environment": environment,
        "original_environment": environment,
        "description": body.get("description"),
        "auto_merge": auto_merge,
        "required_contexts": required,
        "transient_environment": bool(body.get("transient_environment", False)),
        "production_environment": bool(body.get("production_environment", environment == "production")),
        "creator": creator,
        "created_at": now,
        "updated_at": now,
    }
    gh.state.deployments.append(deployment)
    return 201, deployment_json(gh, deployment)


def _check_types(body: dict[str, Any]) -> None:
    kinds: dict[str, type | tuple[type, ...]] = {
        "task": str,
        "environment": str,
        "description": (str, type(None)),
        "auto_merge": bool,
        "required_contexts": list,
        "payload": (dict, str),
        "transient_environment": bool,
        "production_environment": bool,
    }
    for name, kind in kinds.items():
        if name in body and not isinstance(body[name], kind):
            raise invalid("Deployment", name, f"{name} has the wrong type", "invalid")
    if "required_contexts" in body and not all(isinstance(c, str) for c in body["required_contexts"]):
        raise invalid("Deployment", "required_contexts", "required_contexts must be strings", "invalid")


def _auto_merge(gh: GitHubCore, record: dict[str, Any], ref: str, creator: str) -> str | None:
    """Merge the default branch into ``ref`` when it is behind, as ``auto_merge`` does (409 on a conflict)."""
    default = record["branches"].get(record["default_branch"])
    head = record["branches"][ref]
    if default is None or default in store.ancestors(gh.state, head):
        return None
    ours_history = store.ancestors(gh.state, head)
    theirs_history = store.ancestors(gh.state, default)
    common = [sha for sha in ours_history & theirs_history]
    base_tree = (
        gh.state.commits[max(common, key=lambda s: len(store.ancestors(gh.state, s)))]["tree"]
        if common
        else {}
    )
    merged = store.merge_trees(base_tree, gh.state.commits[head]["tree"], gh.state.commits[default]["tree"])
    if merged is None:
        raise GitHubError(409, "Merge conflict")
    files = store.tree_files(gh.state, merged)
    message = f"Auto-merged {record['default_branch']} into {ref} on deployment."
    sha = gh._commit(
        record, [head, default], files, message, {"name": creator, "email": "", "username": creator}
    )
    record["branches"][ref] = sha
    record["history"].setdefault(ref, []).append(sha)
    return sha


def deployment_json(gh: GitHubCore, deployment: dict[str, Any]) -> dict[str, Any]:
    url = f"{gh.base_url}/repos/{deployment['repo']}/deployments/{deployment['id']}"
    keys = (
        "id",
        "sha",
        "ref",
        "task",
        "payload",
        "environment",
        "original_environment",
        "description",
        "transient_environment",
        "production_environment",
        "created_at",
        "updated_at",
    )
    return {
        **{k: deployment[k] for k in keys},
        "url": url,
        "node_id": f"DE_{deployment['id']}",
        "creator": _creator(gh, deployment["creator"]),
        "statuses_url": f"{url}/statuses",
        "repository_url": f"{gh.base_url}/repos/{deployment['repo']}",
    }


def deployment(gh: GitHubCore, record: dict[str, Any], deployment_id: int) -> dict[str, Any]:
    for item in gh.state.deployments:
        if item["id"] == deployment_id and item["repo"] == record["full_name"]:
            return item
    raise GitHubError(404, "Not Found")


def list_deployments(gh: GitHubCore, record: dict[str, Any], query: dict[str, str]) -> list[dict[str, Any]]:
    found = [d for d in gh.state.deployments if d["repo"] == record["full_name"]]
    for name in ("sha", "ref", "task", "environment"):
        if name in query:
            found = [d for d in found if d[name] == query[name]]
    return sorted(found, key=lambda d: d["id"], reverse=True)


def create_deployment_status(
    gh: GitHubCore, record: dict[str, Any], item: dict[str, Any], body: dict[str, Any], creator: str
) -> dict[str, Any]:
    state = body.get("state")
    if state not in DEPLOYMENT_STATES:
        raise invalid(
            "DeploymentStatus", "state", f"state must be one of {', '.join(DEPLOYMENT_STATES)}", "invalid"
        )
    for name in ("target_url", "log_url", "environment_url", "description", "environment"):
        if body.get(name) is not None and not isinstance(body[name], str):
            raise invalid("DeploymentStatus", name, f"{name} must be a string", "invalid")
    description = body.get("description") or ""
    if len(description) > MAX_DESCRIPTION:
        raise invalid(
            "DeploymentStatus", "description", "description is too long (maximum is 140 characters)"
        )
    if body.get("environment"):
        item["environment"] = body["environment"]
    now = iso(gh.clock())
    status = {
        "id": gh.state.new_id(),
        "deployment_id": item["id"],
        "repo": record["full_name"],
        "state": state,
        "description": description,
        "environment": item["environment"],
        "log_url": body.get("log_url") or body.get("target_url") or "",
        "environment_url": body.get("environment_url") or "",
        "creator": creator,
        "created_at": now,
        "updated_at": now,
    }
    gh.state.deployment_statuses.append(status)
    item["updated_at"] = now
    if state == "success" and body.get("auto_inactive", True):
        _inactivate_older(gh, item, creator)
    return deployment_status_json(gh, status)


def _inactivate_older(gh: GitHubCore, item: dict[str, Any], creator: str) -> None:
    """``auto_inactive``: earlier non-transient deployments of that environment become ``inactive``."""
    now = iso(gh.clock())
    for other in gh.state.deployments:
        if (other["repo"], other["environment"]) != (item["repo"], item["environment"]) or other[
            "id"
        ] >= item["id"]:
            continue
        states = [s["state"] for s in gh.state.deployment_statuses if s["deployment_id"] == other["id"]]
        if states and states[-1] == "success" and not other["transient_environment"]:
            gh.state.deployment_statuses.append(
                {
                    "id": gh.state.new_id(),
                    "deployment_id": other["id"],
                    "repo": other["repo"],
                    "state": "inactive",
                    "description": "",
                    "environment": other["environment"],
                    "log_url": "",
                    "environment_url": "",
                    "creator": creator,
                    "created_at": now,
                    "updated_at": now,
                }
            )


def deployment_status_json(gh: GitHubCore, status: dict[str, Any]) -> dict[str, Any]:
    deployment_url = f"{gh.base_url}/repos/{status['repo']}/deployments/{status['deployment_id']}"
    keys = (
        "id",
        "state",
        "description",
        "environment",
        "log_url",
        "environment_url",
        "created_at",
        "updated_at",
    )
    return {
        **{k: status[k] for k in keys},
        "url": f"{deployment_url}/statuses/{status['id']}",
        "node_id": f"DES_{status['id']}",
        "target_url": status["log_url"],
        "deployment_url": deployment_url,
        "repository_url": f"{gh.base_url}/repos/{status['repo']}",
        "creator": _creator(gh, status["creator"]),
    }


def deployment_statuses(gh: GitHubCore, deployment_id: int) -> list[dict[str, Any]]:
    found = [s for s in gh.state.deployment_statuses if s["deployment_id"] == deployment_id]
    return sorted(found, key=lambda s: s["id"], reverse=True)


def _creator(gh: GitHubCore, login: str) -> dict[str, Any]:
    gh.state.account(login, "Bot")
    return gh.account_json(login)
