"""A stack's source (DESIGN.md, workflow 3): the git branch it builds and releases."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, Field

from functions.stacks.models.strict import Strict as _Strict
from functions.stacks.models.strict import fail as _fail
from functions.stacks.models.strict import fail_ctx as _fail_ctx

# GitHub's rules: an owner (user or organization) has 1-39 alphanumerics or hyphens, neither first nor
# last; a repository name 1-100 of [A-Za-z0-9._-], never "." or "..".
_GITHUB_REPOSITORY_RE: Final = re.compile(
    r"^(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9-]{0,37}[A-Za-z0-9])?)/(?P<name>[A-Za-z0-9._-]{1,100})$"
)
# git check-ref-format: no control character, space, ~ ^ : ? * [ or backslash anywhere.
_REF_FORBIDDEN_RE: Final = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
# A path inside the repository: "/"-separated parts of these characters (and no "..", no "." part).
_PATH_PART_RE: Final = re.compile(r"^[A-Za-z0-9._@+-]+$")
MAX_BRANCH_CHARS: Final = 255
MAX_SOURCE_PATH_CHARS: Final = 1024


def _github_repository(value: str) -> str:
    if not _GITHUB_REPOSITORY_RE.match(value) or value.split("/")[1] in (".", ".."):
        raise _fail(
            "repository",
            "must be owner/name: an owner of 1-39 letters, digits or hyphens (not first or last), "
            "a name of 1-100 letters, digits, '.', '_' or '-' (not '.' or '..')",
        )
    return value


def _branch_name(value: str) -> str:
    """git's ref-name rules (``git check-ref-format --branch``), for a branch's short name."""
    problem = None
    if not 1 <= len(value) <= MAX_BRANCH_CHARS:
        problem = f"has 1 to {MAX_BRANCH_CHARS} characters"
    elif _REF_FORBIDDEN_RE.search(value):
        problem = "has no space, control character, ~ ^ : ? * [ or backslash"
    elif value.startswith("refs/"):
        problem = "is the branch's short name (main, not refs/heads/main)"
    elif value.startswith(("-", "/")) or value.endswith(("/", ".")) or value == "HEAD":
        problem = "does not start with '-' or '/', end with '/' or '.', nor read HEAD"
    elif ".." in value or "//" in value or "@{" in value or value == "@":
        problem = "has no '..', '//' or '@{' and is not '@'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in value.split("/")):
        problem = "has no part starting with '.' or ending with '.lock'"
    if problem:
        raise _fail_ctx("branch", "a git branch name {problem}", {"problem": problem})
    return value


def _relative_path(value: str) -> str:
    if value == ".":
        return value
    if (
        len(value) > MAX_SOURCE_PATH_CHARS
        or ".." in value
        or not all(_PATH_PART_RE.match(part) and part != "." for part in value.split("/"))
    ):
        raise _fail(
            "source_path",
            "must be a relative path inside the repository: parts of letters, digits, '.', '_', '@', '+' "
            "or '-' separated by '/', no '..' part, no leading or trailing '/'",
        )
    return value


GitHubRepository = Annotated[str, AfterValidator(_github_repository)]
BranchName = Annotated[str, AfterValidator(_branch_name)]
SourcePath = Annotated[str, AfterValidator(_relative_path)]


class SourceSpec(_Strict):
    """The git branch the stack tracks: each push to it is built (in the customer's CodeBuild, into the
    stack's ECR repository) and released. Checking that the org's GitHub installation can see the
    repository is the releases domain's part."""

    provider: Literal["github"] = Field(description="The git host (GitHub or GitHub Enterprise Server)")
    repository: GitHubRepository = Field(description="owner/name of the repository, e.g. acme/shop")
    branch: BranchName = Field(description="The branch whose pushes are released, e.g. main")
    dockerfile: SourcePath = Field(
        default="Dockerfile", description="The Dockerfile's path inside context, e.g. docker/app.Dockerfile"
    )
    context: SourcePath = Field(
        default=".", description="The docker build context: a directory of the repository ('.' is its root)"
    )
