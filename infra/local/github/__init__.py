"""A local GitHub on loopback: one GitHub App, repositories made from folders, installations,
tokens, statuses, deployments and signed webhook deliveries (see README.md)."""

from infra.local.github.auth import app_jwt
from infra.local.github.core import PushResult
from infra.local.github.faults import Fault
from infra.local.github.hooks import signature_256
from infra.local.github.server import LocalGitHub

__all__ = ["Fault", "LocalGitHub", "PushResult", "app_jwt", "signature_256"]
