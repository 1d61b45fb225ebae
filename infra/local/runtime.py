"""The whole product on one machine: local cloud + local OIDC issuer + the API front door."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from infra.definitions import ROUTES
from infra.local import tenants
from infra.local.cloud import DEFAULT_STATE_DIR, LocalCloud
from infra.local.front_door import FrontDoor
from infra.local.issuer import LocalIssuer
from infra.local.openapi import build_openapi


@dataclass
class LocalStackpilot:
    cloud: LocalCloud
    issuer: LocalIssuer
    front_door: FrontDoor
    server: Any
    thread: Any
    _seeded: set[tuple[str, str]] = field(default_factory=set)

    @property
    def api_url(self) -> str:
        return self.cloud.api_base_url

    def token(self, org_id: str, role: str, user_id: str = "local-user") -> str:
        """A token for ``user_id`` in ``org_id``; the first time, also makes them a member with ``role``
        (later role changes are the API's: a token never carries a role)."""
        if (org_id, user_id) not in self._seeded:
            tenants.ensure_membership(self.cloud.names, org_id, user_id, role)
            self._seeded.add((org_id, user_id))
        return self.issuer.mint(org_id, user_id)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
        self.cloud.stop()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def start(
    *,
    in_process: bool,
    aws_port: int = 4566,
    api_port: int = 3000,
    host: str = "127.0.0.1",
    time_scale: float = 1.0,
    connect_window_seconds: int = 3600,
    state_dir: Path = DEFAULT_STATE_DIR,
    log_level: str = "INFO",
    persist: bool = False,
    fresh: bool = False,
) -> LocalStackpilot:
    """``in_process``: moto mocks this process (tests, demo); else an AWS endpoint on ``aws_port``.
    Port 0 picks a free port. ``persist``: the world is restored from ``state_dir`` and saved there
    (``fresh``: starting empty); ``local.cloud.restore_report`` says what happened."""
    api_port = api_port or free_port(host)
    api_url = f"http://{host}:{api_port}"
    cloud = LocalCloud(
        time_scale=time_scale,
        api_base_url=api_url,
        connect_window_seconds=connect_window_seconds,
        state_dir=state_dir,
        log_level=log_level,
        persist=persist,
        fresh=fresh,
    )
    if in_process:
        cloud.start_in_process()
    else:
        cloud.start_server(port=aws_port or free_port(host), host=host)
    issuer = LocalIssuer(state_dir, base_url=api_url)
    front_door = FrontDoor(
        ROUTES,
        function_name=cloud.names.function,
        authorizer_function=cloud.names.function("tenancy-authorizer"),
        lambda_client=cloud.client("lambda"),
        issuer=issuer,
        openapi=lambda: build_openapi(ROUTES),
        region=cloud.region,
    )
    try:
        server, thread = front_door.serve(host, api_port)
    except OSError:
        cloud.stop()
        raise
    return LocalStackpilot(cloud=cloud, issuer=issuer, front_door=front_door, server=server, thread=thread)
