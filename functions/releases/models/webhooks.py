"""What the webhook receiver reads of GitHub's deliveries: a few fields of a few events. Everything
else a payload carries is ignored (``extra="ignore"``): GitHub adds fields, and a push payload is
large; the receiver keeps only what routing a release needs."""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

ZERO_SHA: Final = "0" * 40  # `after` of a deleted branch
BRANCH_PREFIX: Final = "refs/heads/"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, hide_input_in_errors=True)


class Account(_Lenient):
    login: str = Field(min_length=1, max_length=100)
    id: int


class Repository(_Lenient):
    id: int = Field(gt=0)
    full_name: str = Field(min_length=3, max_length=140, description="owner/name")


class Installation(_Lenient):
    id: int = Field(gt=0)


class CommitAuthor(_Lenient):
    name: str = ""
    email: str = ""
    username: str | None = None


class HeadCommit(_Lenient):
    id: str = Field(pattern=r"^[0-9a-f]{40}$")
    message: str = ""
    timestamp: str = ""
    author: CommitAuthor = CommitAuthor()


class PushEvent(_Lenient):
    """``push``: a branch or tag moved, was created or deleted."""

    ref: str = Field(min_length=1, max_length=512)
    before: str = Field(pattern=r"^[0-9a-f]{40}$")
    after: str = Field(pattern=r"^[0-9a-f]{40}$")
    deleted: bool = False
    repository: Repository
    installation: Installation | None = None
    head_commit: HeadCommit | None = None
    sender: Account

    @property
    def branch(self) -> str | None:
        """The branch pushed to; None for a tag or any other ref."""
        return self.ref.removeprefix(BRANCH_PREFIX) if self.ref.startswith(BRANCH_PREFIX) else None

    @property
    def removed_branch(self) -> bool:
        return self.deleted or self.after == ZERO_SHA
