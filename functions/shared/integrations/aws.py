"""One botocore session per process; clients built once, with standard retries.

boto3 would only wrap these same clients (and cost ~100 ms more at INIT for s3transfer and
resource machinery we never use). Clients honour ``AWS_ENDPOINT_URL`` (the local cloud).
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)

# Building clients on one session is not thread-safe (botocore resolves credentials and registers
# components lazily); the clients built are. Lambda runs one request at a time, the local cloud many.
BUILDING = threading.Lock()


@cache
def session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def client(service: str, region: str | None = None) -> Any:
    with BUILDING:
        return session().create_client(service, region_name=region, config=RETRIES)


def session_client(credentials: dict[str, str], service: str, region: str) -> Any:
    """A client acting with temporary credentials (an assumed role), built on the shared session."""
    with BUILDING:
        return session().create_client(
            service,
            region_name=region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            config=RETRIES,
        )


class LazyClient:
    """A client built on first use, for calls that only some requests make (e.g. PutEvents on a
    Delete): the requests that never make them never pay for building it."""

    def __init__(self, service: str, region: str | None = None) -> None:
        self._service, self._region = service, region

    def __getattr__(self, name: str) -> Any:
        return getattr(client(self._service, self._region), name)
