"""STS adapter: assume a customer's role through our dedicated assumer role, and say who answered."""

from __future__ import annotations

from functions.accounts.exceptions import AwsUnavailable
from functions.shared.integrations.customer_roles import AssumeRoleChain, AssumeRoleFailed, RoleRefused


class StsRoleProbe:
    def __init__(self, chain: AssumeRoleChain, region: str) -> None:
        self._chain = chain
        self._region = region

    def assume(self, role_arn: str, external_id: str | None, session_name: str) -> str | None:
        try:
            # STS names the account whose role answered: GetCallerIdentity would say the same.
            return self._chain.answering_account(role_arn, external_id, session_name)
        except RoleRefused as refused:
            if refused.ours:
                raise AwsUnavailable("stackpilot's own assumer role could not be assumed") from None
            return None
        except AssumeRoleFailed as failed:
            raise AwsUnavailable(f"STS failed: {failed.code}") from None
