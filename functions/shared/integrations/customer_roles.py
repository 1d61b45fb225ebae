"""The one way into a customer's account: our dedicated assumer role first, then the customer's role
with the connection's ExternalId (the customer's trust policy names our assumer as the principal).

Credentials last ``CREDENTIALS_SECONDS`` and are reused until ``REUSE_MARGIN_SECONDS`` before they
expire (a call made with them must still finish): our assumer's for every customer, a customer role's
per cache key (connection and service). A refusal is a ``RoleRefused`` (``ours`` says whose role
refused); any other failure of STS is an ``AssumeRoleFailed``. Each domain maps both to its own
errors in a few lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from functions.shared.integrations.aws import session_client

CREDENTIALS_SECONDS = 900
REUSE_MARGIN_SECONDS = 120
#: What STS answers when the role's trust policy (or an SCP) does not let the caller in.
REFUSED = frozenset({"AccessDenied", "AccessDeniedException", "InvalidClientTokenId", "ExpiredToken"})
# ResponseParserError is not a BotoCoreError: an unreadable answer is a failed call like any other.
AWS_ERRORS = (ClientError, BotoCoreError, ResponseParserError)

Credentials = dict[str, str]


class RoleRefused(Exception):
    """AWS refused to let us assume the role (``ours``: our own assumer role was refused)."""

    def __init__(self, role_arn: str, code: str, *, ours: bool) -> None:
        super().__init__(f"AssumeRole of {'our assumer role' if ours else role_arn} refused: {code}")
        self.code = code
        self.ours = ours


class AssumeRoleFailed(Exception):
    """STS failed otherwise (throttled, 5xx, unreachable, unreadable); ``code`` names it."""

    def __init__(self, code: str) -> None:
        super().__init__(f"AssumeRole failed: {code}")
        self.code = code


def error_code(exc: Exception) -> str:
    return str(exc.response["Error"]["Code"]) if isinstance(exc, ClientError) else type(exc).__name__


class AssumeRoleChain:
    def __init__(
        self,
        sts: Any,
        assumer_role_arn: str,
        region: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sts = sts
        self._assumer_arn = assumer_role_arn
        self._region = region
        self._clock = clock
        self._assumer: tuple[float, Any] | None = None
        self._clients: dict[Hashable, tuple[float, Any]] = {}

    def credentials(self, role_arn: str, external_id: str | None, session_name: str) -> Credentials:
        """Fresh credentials of the customer's role (never cached: a probe of its trust policy)."""
        return dict(
            self._assume(self._assumer_sts(), role_arn, external_id, session_name, ours=False)["Credentials"]
        )

    def answering_account(self, role_arn: str, external_id: str | None, session_name: str) -> str:
        """Assumes the customer's role afresh and returns the account STS says the assumed role
        belongs to (``AssumedRoleUser.Arn``, ``arn:aws:sts::<account>:assumed-role/...``): the same
        word GetCallerIdentity would give with these credentials, without a second call."""
        answer = self._assume(self._assumer_sts(), role_arn, external_id, session_name, ours=False)
        return str(answer["AssumedRoleUser"]["Arn"]).split(":")[4]

    def client(
        self,
        key: Hashable,
        role_arn: str,
        external_id: str | None,
        session_name: str,
        service: str,
        region: str,
    ) -> Any:
        """A client acting as the customer's role, reused under ``key`` while its credentials last."""
        cached = self._clients.get(key)
        if cached and cached[0] > self._clock():
            return cached[1]
        creds = self.credentials(role_arn, external_id, session_name)
        built = session_client(creds, service, region)
        self._clients[key] = (self._reuse_until(), built)
        return built

    def _assumer_sts(self) -> Any:
        """STS acting as our assumer role, reused while its credentials last."""
        if self._assumer is not None and self._assumer[0] > self._clock():
            return self._assumer[1]
        creds = dict(
            self._assume(self._sts, self._assumer_arn, None, "stackpilot-assumer", ours=True)["Credentials"]
        )
        chained = session_client(creds, "sts", self._region)
        self._assumer = (self._reuse_until(), chained)
        return chained

    def _reuse_until(self) -> float:
        return self._clock() + CREDENTIALS_SECONDS - REUSE_MARGIN_SECONDS

    @staticmethod
    def _assume(
        sts: Any, role_arn: str, external_id: str | None, session_name: str, *, ours: bool
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": CREDENTIALS_SECONDS,
        }
        if external_id is not None:
            params["ExternalId"] = external_id
        try:
            return dict(sts.assume_role(**params))
        except AWS_ERRORS as exc:
            code = error_code(exc)
            if code in REFUSED:
                raise RoleRefused(role_arn, code, ours=ours) from None
            raise AssumeRoleFailed(code) from None
