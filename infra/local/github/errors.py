"""GitHub's error answers: a status, a message, and GitHub's optional ``errors`` list."""

from __future__ import annotations

from typing import Any

DOCS = "https://docs.github.com/rest"


class GitHubError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "documentation_url": DOCS,
            "status": str(self.status),
        }
        if self.errors is not None:
            body["errors"] = self.errors
        return body


def not_found() -> GitHubError:
    return GitHubError(404, "Not Found")


def bad_credentials() -> GitHubError:
    return GitHubError(401, "Bad credentials")


def not_accessible() -> GitHubError:
    return GitHubError(403, "Resource not accessible by integration")


def invalid(resource: str, field: str, message: str, code: str = "custom") -> GitHubError:
    error = {"resource": resource, "code": code, "field": field, "message": message}
    return GitHubError(422, "Validation Failed", errors=[error])
