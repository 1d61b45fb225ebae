"""Where a redriven execution starts again (infra/local/recovery.py): pure, from its history."""

from __future__ import annotations

import json
from typing import Any

from infra.local.recovery import _interrupted_state

DEFINITION = {
    "StartAt": "Start",
    "States": {
        "Start": {"Type": "Task", "Resource": "arn", "Next": "Decide"},
        "Decide": {"Type": "Choice", "Choices": [], "Default": "Wait"},
        "Wait": {"Type": "Task", "Resource": "arn", "Next": "Sweep"},
        "Sweep": {
            "Type": "Map",
            "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}},
            "Next": "Done",
        },
        "Done": {"Type": "Succeed"},
    },
}


def entered(name: str, value: Any) -> dict[str, Any]:
    details = {"name": name, "input": json.dumps(value)}
    return {"type": "TaskStateEntered", "stateEnteredEventDetails": details}


def exited(name: str, value: Any) -> dict[str, Any]:
    details = {"name": name, "output": json.dumps(value)}
    return {"type": "TaskStateExited", "stateExitedEventDetails": details}


def test_before_any_state_it_starts_from_the_top_with_the_executions_input() -> None:
    assert _interrupted_state(DEFINITION, [], {"org": "o"}) == ("Start", {"org": "o"})


def test_a_state_entered_and_not_exited_runs_again_with_its_input() -> None:
    events = [entered("Start", {"a": 1}), exited("Start", {"b": 2}), entered("Wait", {"c": 3})]
    assert _interrupted_state(DEFINITION, events, {}) == ("Wait", {"c": 3})


def test_after_a_task_exited_the_next_state_runs_with_its_output() -> None:
    events = [entered("Wait", {"c": 3}), exited("Wait", {"d": 4})]
    assert _interrupted_state(DEFINITION, events, {}) == ("Sweep", {"d": 4})


def test_a_choice_that_exited_decides_again_from_its_input() -> None:
    events = [entered("Decide", {"x": 1}), exited("Decide", {"x": 1, "filtered": True})]
    assert _interrupted_state(DEFINITION, events, {}) == ("Decide", {"x": 1})


def test_a_map_runs_again_whole_not_from_an_inner_state() -> None:
    events = [entered("Sweep", [1, 2]), entered("Inner", 1), exited("Inner", 1)]
    assert _interrupted_state(DEFINITION, events, {}) == ("Sweep", [1, 2])


def test_a_terminal_state_that_exited_leaves_nothing_to_run() -> None:
    events = [entered("Done", {}), exited("Done", {})]
    assert _interrupted_state(DEFINITION, events, {}) is None


def test_a_state_the_new_definition_no_longer_has_cannot_be_resumed() -> None:
    # (the execution then ends FAILED, "the local cloud restarted", rather than start over)
    events = [entered("Start", {}), exited("Start", {}), entered("Renamed", {})]
    assert _interrupted_state(DEFINITION, events, {"org": "o"}) is None
