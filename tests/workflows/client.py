"""A small HTTP client for the local API, as a user's script would use it."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from infra.local.runtime import LocalStackpilot


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def request_id(self) -> str:
        return self.headers.get("x-amzn-requestid", "")


@dataclass
class Api:
    local: LocalStackpilot
    org_id: str
    role: str
    user_id: str = ""  # default: one user per role ("admin-user"), each a member with that role
    credential: str | None = None  # a given token or API key instead of a minted member's token

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> Reply:
        headers = {"Content-Type": content_type}
        if self.credential != "":  # "" : send no credentials at all
            token = self.credential or self.local.token(
                self.org_id, self.role, self.user_id or f"{self.role}-user"
            )
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        request = urllib.request.Request(  # noqa: S310 - loopback test server
            self.local.api_url + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:  # noqa: S310
                return Reply(reply.status, json.loads(reply.read() or b"null"), _lower(reply.headers))
        except urllib.error.HTTPError as error:
            return Reply(error.code, json.loads(error.read() or b"null"), _lower(error.headers))

    def wait_for_status(self, connection_id: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            reply = self.request("GET", f"/accounts/{connection_id}")
            assert reply.status == 200, reply
            if reply.body["status"] in statuses or time.monotonic() > deadline:
                return dict(reply.body)
            time.sleep(0.1)


def _lower(headers: Any) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
