"""Who may call which route: the one table, enforced by the authorizer on every request.

A route missing from this table is refused to everyone (and fails a test). The OpenAPI shows each
route's entry as ``x-required-role`` and ``x-api-keys``, so a reader sees the rule the authorizer
applies. Object-level rules (another org's object answers 404; owner-only changes to owners) are
the use cases' own, on top of this.
"""

from __future__ import annotations

from dataclasses import dataclass

from functions.shared.models.principal import Role

ANY_USER = "any-user"  # a verified user, member of no org yet (creating an org)


@dataclass(frozen=True)
class Access:
    minimum: Role | None  # None: any verified user, no membership needed
    action: str  # what the audit log calls it
    mutating: bool
    api_keys: bool = True  # may an API key call it at all

    @property
    def required(self) -> str:
        return self.minimum.value if self.minimum else ANY_USER


def _read(minimum: Role, action: str, api_keys: bool = True) -> Access:
    return Access(minimum, action, mutating=False, api_keys=api_keys)


def _write(minimum: Role | None, action: str, api_keys: bool = True) -> Access:
    return Access(minimum, action, mutating=True, api_keys=api_keys)


V, C, A, OWNER = Role.VIEWER, Role.CONTRIBUTOR, Role.ADMIN, Role.OWNER

ROUTE_ACCESS: dict[tuple[str, str], Access] = {
    # accounts
    ("POST", "/accounts"): _write(A, "account.connect"),
    ("GET", "/accounts"): _read(V, "account.list"),
    ("GET", "/accounts/{connection_id}"): _read(V, "account.read"),
    ("DELETE", "/accounts/{connection_id}"): _write(A, "account.disconnect"),
    ("POST", "/accounts/{connection_id}/upgrade"): _write(A, "account.upgrade"),
    # orgs and members: people, never scripts
    ("POST", "/orgs"): _write(None, "org.create", api_keys=False),
    ("GET", "/orgs/current"): _read(V, "org.read"),
    ("PATCH", "/orgs/current"): _write(OWNER, "org.rename", api_keys=False),
    ("GET", "/members"): _read(V, "member.list"),
    ("POST", "/members"): _write(A, "member.add", api_keys=False),
    ("PATCH", "/members/{user_id}"): _write(A, "member.change_role", api_keys=False),
    ("DELETE", "/members/{user_id}"): _write(A, "member.remove", api_keys=False),
    # API keys: made and revoked by people
    ("POST", "/api-keys"): _write(A, "api_key.create", api_keys=False),
    ("GET", "/api-keys"): _read(A, "api_key.list"),
    ("DELETE", "/api-keys/{key_id}"): _write(A, "api_key.revoke", api_keys=False),
    # the audit log
    ("GET", "/audit"): _read(A, "audit.list"),
    ("GET", "/audit/export"): _read(A, "audit.export"),
    ("GET", "/audit/verify"): _read(A, "audit.verify"),
    # stacks: contributors change them, viewers read
    ("POST", "/stacks"): _write(C, "stack.create"),
    ("GET", "/stacks"): _read(V, "stack.list"),
    ("GET", "/stacks/{stack_id}"): _read(V, "stack.read"),
    ("PATCH", "/stacks/{stack_id}"): _write(C, "stack.update"),
    ("DELETE", "/stacks/{stack_id}"): _write(C, "stack.delete"),
    ("POST", "/stacks/{stack_id}/preview"): _write(C, "stack.preview"),
    ("GET", "/stacks/{stack_id}/events"): _read(V, "stack.history"),
    ("GET", "/stacks/{stack_id}/template"): _read(V, "stack.template"),
    # secrets: metadata for those who reference them, values for nobody
    ("GET", "/secrets"): _read(C, "secret.list"),
    ("PUT", "/secrets/{name}"): _write(A, "secret.put"),
    ("DELETE", "/secrets/{name}"): _write(A, "secret.delete"),
}


def route_access(method: str, resource: str) -> Access | None:
    return ROUTE_ACCESS.get((method.upper(), resource))


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str


def decide(access: Access | None, role: Role | None, principal_type: str) -> Decision:
    """``role`` is the caller's role in the org it names (None: not a member)."""
    if access is None:
        return Decision(False, "this route has no access rule")
    if principal_type == "api_key" and not access.api_keys:
        return Decision(False, f"{access.action} needs a signed-in user; API keys cannot do it")
    if access.minimum is None:
        return Decision(True, "any verified user")
    if role is None:
        return Decision(False, "not a member of this org")
    if not role.at_least(access.minimum):
        return Decision(
            False, f"{access.action} needs role {access.minimum.value} or higher; caller is {role}"
        )
    return Decision(True, f"role {role} meets {access.minimum.value}")
