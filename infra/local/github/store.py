"""The local GitHub's state: the App, repositories with their commits, installations, tokens,
statuses, deployments and webhook deliveries. Plain JSON-able dicts, so a restart reloads it
exactly (``save``/``load`` write one file atomically)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

STATE_FILE = "github.json"
STATE_VERSION = 1
ZERO_SHA = "0" * 40


@dataclass
class AppConfig:
    """The one GitHub App: its identifiers and secrets (never logged)."""

    app_id: int
    slug: str
    client_id: str
    client_secret: str
    webhook_secret: str
    private_key_pem: str
    webhook_url: str | None = None
    setup_url: str | None = None
    hook_id: int = 1
    name: str = "stackpilot-local"
    permissions: dict[str, str] = field(
        default_factory=lambda: {
            "metadata": "read",
            "contents": "read",
            "statuses": "write",
            "deployments": "write",
            "pull_requests": "read",
        }
    )
    events: list[str] = field(
        default_factory=lambda: ["push", "pull_request", "installation", "installation_repositories"]
    )


@dataclass
class State:
    app: AppConfig
    next_id: int = 1000
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)  # login -> {id, type}
    repos: dict[str, dict[str, Any]] = field(default_factory=dict)  # full_name -> repo
    blobs: dict[str, str] = field(default_factory=dict)  # sha256 -> base64 content
    commits: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha -> commit
    installations: dict[str, dict[str, Any]] = field(default_factory=dict)  # str(id) -> installation
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha256(token) -> grant
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)  # sha256(code) -> pending code
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # archive link key -> {repo, sha, exp}
    statuses: list[dict[str, Any]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    deployment_statuses: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id

    def account(self, login: str, kind: str = "Organization") -> dict[str, Any]:
        if login not in self.accounts:
            self.accounts[login] = {"login": login, "id": self.new_id(), "type": kind}
        return self.accounts[login]

    def to_json(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, **asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> State:
        data = dict(data)
        if data.pop("version", None) != STATE_VERSION:
            raise ValueError("unknown local GitHub state version")
        return cls(app=AppConfig(**data.pop("app")), **data)


def save(state: State, state_dir: Path) -> None:
    """Write the state file atomically: a reader sees the old file or the new one, never half."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".github-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(state.to_json(), handle)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(state_dir / STATE_FILE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(state_dir: Path) -> State | None:
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    return State.from_json(json.loads(path.read_text(encoding="utf-8")))


# --- content -----------------------------------------------------------------------------------


def read_folder(folder: Path) -> dict[str, bytes]:
    """The files under ``folder`` by their POSIX path relative to it (``.git`` left out)."""
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and ".git" not in relative.parts:
            files[relative.as_posix()] = path.read_bytes()
    return files


def read_zip(data: bytes) -> dict[str, bytes]:
    """The files of a zip (what the CLI posts); paths that climb out of the root are refused."""
    files: dict[str, bytes] = {}
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename.replace("\\", "/").lstrip("/")
            if not name or ".." in name.split("/"):
                raise ValueError(f"archive member {info.filename!r} is outside the folder")
            files[name] = archive.read(info)
    return files


def zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in read_folder(folder).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def put_blobs(state: State, files: dict[str, bytes]) -> dict[str, str]:
    """Store the contents once each; the tree maps path -> blob key."""
    tree: dict[str, str] = {}
    for path, content in files.items():
        key = hashlib.sha256(content).hexdigest()
        state.blobs.setdefault(key, base64.b64encode(content).decode("ascii"))
        tree[path] = key
    return tree


def tree_files(state: State, tree: dict[str, str]) -> dict[str, bytes]:
    return {path: base64.b64decode(state.blobs[key]) for path, key in tree.items()}


def tree_sha(tree: dict[str, str]) -> str:
    return hashlib.sha1(json.dumps(sorted(tree.items())).encode(), usedforsecurity=False).hexdigest()


def commit_sha(parents: list[str], tree: dict[str, str], metadata: dict[str, Any]) -> str:
    """A 40-hex id derived from parents, content and metadata (as git's is, though not git's bytes)."""
    body = json.dumps({"parents": parents, "tree": tree_sha(tree), "meta": metadata}, sort_keys=True)
    return hashlib.sha1(body.encode(), usedforsecurity=False).hexdigest()


def ancestors(state: State, sha: str) -> set[str]:
    seen: set[str] = set()
    stack = [sha]
    while stack:
        current = stack.pop()
        if current in seen or current not in state.commits:
            continue
        seen.add(current)
        stack.extend(state.commits[current]["parents"])
    return seen


def merge_trees(base: dict[str, str], ours: dict[str, str], theirs: dict[str, str]) -> dict[str, str] | None:
    """A file-level three-way merge; None when both sides changed the same path differently."""
    merged: dict[str, str] = {}
    for path in set(base) | set(ours) | set(theirs):
        b, o, t = base.get(path), ours.get(path), theirs.get(path)
        if o == t or t == b:
            value = o
        elif o == b:
            value = t
        else:
            return None
        if value is not None:
            merged[path] = value
    return merged


def archive_zip(files: dict[str, bytes], top_folder: str) -> bytes:
    """A zip with one top folder, as GitHub's zipball is."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{top_folder}/", b"")
        for name in sorted(files):
            archive.writestr(f"{top_folder}/{name}", files[name])
    return buffer.getvalue()
