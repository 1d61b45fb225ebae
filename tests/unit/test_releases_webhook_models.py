"""What the receiver reads of a push (functions/releases/models/webhooks.py): the branch, a deleted
branch, a tag; the rest of GitHub's payload is ignored."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from functions.releases.models.webhooks import ZERO_SHA, PushEvent

SHA_A = "a" * 40
SHA_B = "b" * 40


def _push(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ref": "refs/heads/main",
        "before": SHA_A,
        "after": SHA_B,
        "created": False,
        "deleted": False,
        "forced": False,
        "repository": {
            "id": 7,
            "name": "shop",
            "full_name": "acme/shop",
            "private": True,
            "owner": {"login": "acme"},
        },
        "installation": {"id": 42, "node_id": "MDIz"},
        "head_commit": {
            "id": SHA_B,
            "message": "Ship it",
            "timestamp": "2026-12-08T01:00:00Z",
            "author": {"name": "Ada", "email": "ada@example.com", "username": "ada"},
        },
        "sender": {"login": "ada", "id": 1, "type": "User"},
        "commits": [{"id": SHA_B}],
        "pusher": {"name": "ada"},
    }
    return body | changes


def test_a_push_to_a_branch_names_the_branch_and_ignores_what_it_does_not_need() -> None:
    event = PushEvent.model_validate(_push())
    assert (event.branch, event.removed_branch, event.repository.full_name) == ("main", False, "acme/shop")
    assert event.installation is not None and event.installation.id == 42
    assert event.head_commit is not None and event.head_commit.author.username == "ada"


@pytest.mark.parametrize(
    ("changes", "branch", "removed"),
    [
        ({"ref": "refs/tags/v1.0"}, None, False),  # a tag: no branch
        ({"ref": "refs/heads/feature/x"}, "feature/x", False),
        ({"deleted": True, "after": ZERO_SHA, "head_commit": None}, "main", True),  # a deleted branch
    ],
)
def test_tags_and_deleted_branches_read_as_such(
    changes: dict[str, Any], branch: str | None, removed: bool
) -> None:
    event = PushEvent.model_validate(_push(**changes))
    assert (event.branch, event.removed_branch) == (branch, removed)


@pytest.mark.parametrize("changes", [{"after": "not-a-sha"}, {"repository": None}, {"sender": {}}])
def test_a_push_without_what_routing_needs_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        PushEvent.model_validate(_push(**changes))
