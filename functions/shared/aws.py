"""One boto3 session per process, clients built once with standard retries.

Clients honour ``AWS_ENDPOINT_URL`` (the local cloud) through botocore's own configuration.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=3, read_timeout=10)


@cache
def session() -> boto3.Session:
    return boto3.Session()


@cache
def client(service: str, region: str | None = None) -> Any:
    return session().client(service, region_name=region, config=RETRIES)


def session_client(credentials: dict[str, str], service: str, region: str) -> Any:
    """A client acting with temporary credentials (an assumed role), built on the shared session."""
    return session().client(
        service,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=RETRIES,
    )
