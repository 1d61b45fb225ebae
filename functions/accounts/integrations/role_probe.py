"""STS adapter: assume a customer's role through our dedicated assumer role."""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from functions.accounts.exceptions import AwsUnavailable
from functions.shared.integrations.aws import session_client

REFUSED = {"AccessDenied", "AccessDeniedException", "InvalidClientTokenId"}


class StsRoleProbe:
    def __init__(self, sts: Any, assumer_role_arn: str, region: str) -> None:
        self._sts = sts
        self._assumer_arn = assumer_role_arn
        self._region = region
        self._assumer: tuple[float, Any] | None = None

    def assume(self, role_arn: str, external_id: str | None, session_name: str) -> str | None:
        creds = self._assume(self._assumer_sts(), role_arn, external_id, session_name)
        if creds is None:
            return None
        identity = session_client(creds, "sts", self._region).get_caller_identity()
        return str(identity["Account"])

    def _assumer_sts(self) -> Any:
        """An STS client acting as our assumer role, reused while its credentials last (15 min)."""
        if self._assumer is not None and self._assumer[0] > time.monotonic():
            return self._assumer[1]
        assumer = self._assume(self._sts, self._assumer_arn, None, "stackpilot-assumer")
        if assumer is None:
            raise AwsUnavailable("stackpilot's own assumer role could not be assumed")
        chained = session_client(assumer, "sts", self._region)
        self._assumer = (time.monotonic() + 600, chained)
        return chained

    @staticmethod
    def _assume(sts: Any, role_arn: str, external_id: str | None, session_name: str) -> dict[str, str] | None:
        params: dict[str, Any] = {
            "RoleArn": role_arn,
            "RoleSessionName": session_name,
            "DurationSeconds": 900,
        }
        if external_id is not None:
            params["ExternalId"] = external_id
        try:
            return dict(sts.assume_role(**params)["Credentials"])
        except ClientError as exc:
            if exc.response["Error"]["Code"] in REFUSED:
                return None
            raise AwsUnavailable(f"STS failed: {exc.response['Error']['Code']}") from exc
