"""``stackpilot local github …``: drive a running local GitHub through its ``/_local/`` control API
from another process. The integrator hooks ``add_commands`` under ``stackpilot local``; each
command is also a function (``push_folder``, ``deployments``, ``install``) for scripts and tests."""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from infra.local.github.store import zip_folder

DEFAULT_URL = "http://127.0.0.1:3100"
URL_ENV = "STACKPILOT_LOCAL_GITHUB_URL"
TIMEOUT_SECONDS = 60.0


class ControlError(RuntimeError):
    """The local GitHub refused a control call (its status and message are in the text)."""


def _call(method: str, url: str, **kwargs: Any) -> Any:
    answer = requests.request(method, url, timeout=TIMEOUT_SECONDS, **kwargs)
    if answer.status_code >= 400:
        raise ControlError(f"{method} {urlsplit(url).path} -> {answer.status_code}: {answer.text[:500]}")
    return answer.json() if answer.content else None


def push_folder(
    github_url: str, repo: str, branch: str, folder: Path, message: str = "Update", author: str | None = None
) -> dict[str, Any]:
    """Commit ``folder`` on ``repo``@``branch`` and deliver the push: ``{sha, ref, deliveries}``,
    each delivery with its ``guid``, ``status_code`` and our receiver's ``answer``."""
    if not Path(folder).is_dir():
        raise ControlError(f"--dir {folder} is not a folder")
    body = {
        "branch": branch,
        "message": message,
        "author": author,
        "zip_base64": base64.b64encode(zip_folder(Path(folder))).decode("ascii"),
    }
    return dict(_call("POST", f"{github_url}/_local/repos/{repo}/push", json=body))


def deployments(github_url: str, repo: str) -> list[dict[str, Any]]:
    """What GitHub was told: each deployment (newest first) with its statuses, newest first."""
    return list(_call("GET", f"{github_url}/_local/repos/{repo}/deployments"))


def commit_statuses(github_url: str, repo: str) -> list[dict[str, Any]]:
    return list(_call("GET", f"{github_url}/_local/repos/{repo}/statuses"))


def install(
    github_url: str,
    install_url: str,
    *,
    org: str,
    repos: list[str] | None,
    user: str = "octocat",
    follow: bool = True,
) -> dict[str, Any]:
    """Play the browser: open the App's install URL (the one our API answered, with its ``state``),
    install on ``org`` with ``repos`` (None = all), and follow GitHub's redirect to the setup URL.
    Answers ``{installation_id, redirect_url, setup_status, setup_answer}``."""
    query = parse_qs(urlsplit(install_url).query)
    page = requests.get(install_url, timeout=TIMEOUT_SECONDS)
    if page.status_code != 200:
        raise ControlError(f"the install URL answered {page.status_code}")
    state = query.get("state", [None])[0]
    body = {"account": org, "repositories": repos, "user": user, "state": state}
    installed = _call("POST", f"{github_url}/_local/install", json=body)
    result = {"installation_id": installed["installation_id"], "redirect_url": installed["redirect_url"]}
    if follow:
        landing = requests.get(installed["redirect_url"], timeout=TIMEOUT_SECONDS, allow_redirects=False)
        result.update(setup_status=landing.status_code, setup_answer=_text_or_json(landing))
    return result


def _text_or_json(answer: requests.Response) -> Any:
    try:
        return answer.json()
    except ValueError:
        return answer.text[:2000]


def add_commands(local_commands: Any) -> None:
    """Add ``github {push,deployments,install}`` to ``stackpilot local``'s subparsers."""
    github = local_commands.add_parser("github", help="the local GitHub: push folders, install the App")
    github.add_argument("--url", default=os.environ.get(URL_ENV, DEFAULT_URL), help="the local GitHub's URL")
    commands = github.add_subparsers(dest="github_command", required=True)
    push = commands.add_parser("push", help="commit a folder and deliver the signed push webhook")
    push.add_argument("--repo", required=True, help="OWNER/NAME")
    push.add_argument("--branch", default="main")
    push.add_argument("--dir", required=True, type=Path)
    push.add_argument("--message", default="Update")
    push.add_argument("--author", default=None, help="the pusher's login")
    push.set_defaults(handler=_push_command)
    shown = commands.add_parser("deployments", help="show the deployments and statuses GitHub was told")
    shown.add_argument("--repo", required=True)
    shown.set_defaults(handler=_deployments_command)
    setup = commands.add_parser("install", help="play the browser through the App's install flow")
    setup.add_argument("--install-url", required=True, help="the URL POST /git/github/install answered")
    setup.add_argument("--org", required=True, help="the GitHub account to install on")
    setup.add_argument("--repo", action="append", default=None, help="OWNER/NAME (repeat); none = all")
    setup.add_argument("--user", default="octocat", help="the installing GitHub user")
    setup.set_defaults(handler=_install_command)


def _push_command(args: argparse.Namespace) -> int:
    result = push_folder(args.url, args.repo, args.branch, args.dir, args.message, args.author)
    print(f"commit {result['sha']} on {result['ref']}")
    for delivery in result["deliveries"]:
        answer = delivery["answer"] or delivery["status"]
        print(f"delivery {delivery['guid']}: {delivery['status_code']} {answer}")
    if not result["deliveries"]:
        print("no installation sees this repository: nothing delivered")
    return 0


def _deployments_command(args: argparse.Namespace) -> int:
    print(json.dumps(deployments(args.url, args.repo), indent=2))
    return 0


def _install_command(args: argparse.Namespace) -> int:
    result = install(args.url, args.install_url, org=args.org, repos=args.repo, user=args.user)
    print(json.dumps(result, indent=2))
    return 0 if 200 <= int(result.get("setup_status", 200)) < 400 else 1


def main(argv: list[str] | None = None) -> int:
    """``python -m infra.local.github.cli github push …`` until the integrator wires it in."""
    top = argparse.ArgumentParser(prog="stackpilot local")
    add_commands(top.add_subparsers(dest="command", required=True))
    args = top.parse_args(argv)
    try:
        return int(args.handler(args))
    except (ControlError, requests.RequestException) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
