"""What a Docker build of a context would make, without Docker: the Dockerfile's instructions and
an image manifest whose digest derives from the context's bytes and the Dockerfile."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from infra.local.patches.codebuild.state import MANIFEST_MEDIA_TYPE

# --------------------------------------------------------------------------------------------------
# Dockerfiles and images
# --------------------------------------------------------------------------------------------------


def _instructions(text: str) -> list[tuple[str, str]]:
    """A Dockerfile's instructions (word upper-cased, arguments), comments and continuations handled."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1].strip() + " "
            continue
        line = (pending + line).strip()
        pending = ""
        if not line or line.startswith("#"):
            continue
        word, _, args = line.partition(" ")
        instructions.append((word.upper(), args.strip()))
    if pending.strip():
        word, _, args = pending.strip().partition(" ")
        instructions.append((word.upper(), args.strip()))
    return instructions


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _short(digest: str, salt: str) -> str:
    return hashlib.sha256((digest + salt).encode()).hexdigest()[:12]


def _image(base: str, dockerfile: bytes, context_files: Mapping[str, bytes]) -> dict[str, Any]:
    """An image manifest (Docker v2 schema 2): a base layer named by FROM, one layer of the context's
    files (names and bytes), a config holding the Dockerfile; the digest is the manifest's sha256."""
    content = hashlib.sha256()
    for name, data in context_files.items():
        content.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    context_layer = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "size": sum(len(d) for d in context_files.values()) + 512 * len(context_files),
        "digest": "sha256:" + content.hexdigest(),
    }
    base_layer = {
        "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "size": 30 * 1024 * 1024,
        "digest": _sha256(f"base:{base}".encode()),
    }
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": {"stackpilot.local.base": base}},
            "rootfs": {"type": "layers", "diff_ids": [base_layer["digest"], context_layer["digest"]]},
            "history": [{"created_by": dockerfile.decode("utf-8", errors="replace")}],
        },
        sort_keys=True,
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MANIFEST_MEDIA_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": len(config),
                "digest": _sha256(config),
            },
            "layers": [base_layer, context_layer],
        },
        indent=3,
    )
    return {
        "manifest": manifest,
        "digest": _sha256(manifest.encode()),
        "config_digest": _sha256(config),
        "layers": [base_layer, context_layer],
    }


def _seconds_between(start: str, end: str) -> int:
    from moto.core.parse import default_timestamp_parser

    try:
        elapsed = default_timestamp_parser(end) - default_timestamp_parser(start)
        return max(0, round(elapsed.total_seconds()))
    except Exception:
        return 0
