"""Every state machine against the models of the Lambdas it invokes (``functions/<domain>/models/
workflow.py``): what a Task is passed is its input model; what the ASL reads of a Task's result is a
field of its output model (or of what resumes it); every Task has a timeout, the Lambda retries and
a catch to a defined failure path. A field renamed in a model, or a path mistyped in the ASL, fails
here instead of as a States.Runtime error in a running execution."""

from __future__ import annotations

import importlib
import json
import re
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import BaseModel

from functions.shared.models.workflow import Task
from infra.definitions import FUNCTIONS, STATE_MACHINES, StateMachineDef

LAMBDA_ERRORS = {"Lambda.ServiceException", "Lambda.TooManyRequestsException", "Lambda.SdkClientException"}
#: What a state holds that does not read the state: its inner states, and what it picks of a result.
NOT_STATE_READS = ("ItemProcessor", "Iterator", "ResultSelector")
PLACEHOLDER = re.compile(r"^\$\{(\w+)\}$")
PATH = re.compile(r"^\$((?:\.[A-Za-z_][\w-]*)+)")
HANDLERS = {f.key: f.handler.rpartition(".")[0] for f in FUNCTIONS}


def asl(machine: StateMachineDef) -> dict[str, Any]:
    return json.loads(machine.asl_path.read_text())


def models(handler_module: str) -> tuple[dict[str, Task], dict[str, type[BaseModel]]]:
    domain = handler_module.split(".")[1]
    workflow = importlib.import_module(f"functions.{domain}.models.workflow")
    return workflow.TASKS, workflow.EXECUTIONS


@dataclass
class Scope:
    """One States block (the machine's, or a Map's item processor) and what its input is."""

    name: str
    states: dict[str, Any]
    input: type[BaseModel]


@dataclass
class TaskState:
    scope: Scope
    name: str
    state: dict[str, Any]
    task: Task
    module: str


def scopes(machine: StateMachineDef) -> Iterator[tuple[Scope, list[TaskState]]]:
    definition = asl(machine)
    first = next(iter(machine.function_substitutions.values()))
    _, executions = models(HANDLERS[first])
    yield from _walk(machine, Scope(machine.key, definition["States"], executions[machine.key]))


def _walk(machine: StateMachineDef, scope: Scope) -> Iterator[tuple[Scope, list[TaskState]]]:
    tasks: list[TaskState] = []
    inner: list[Scope] = []
    for name, state in scope.states.items():
        if state["Type"] == "Task":
            function = str(state["Parameters"]["FunctionName"])
            placeholder = PLACEHOLDER.match(function)
            assert placeholder, f"{machine.key}/{name}: FunctionName is not a ${{...}} placeholder"
            module = HANDLERS[machine.function_substitutions[placeholder.group(1)]]
            registry, _ = models(module)
            assert module in registry, f"{machine.key}/{name}: {module} declares no Task models in TASKS"
            tasks.append(TaskState(scope, name, state, registry[module], module))
        if state["Type"] == "Map":
            processor = state.get("ItemProcessor") or state["Iterator"]
            inner.append(Scope(f"{scope.name}/{name}", processor["States"], _item_model(scope, tasks, state)))
    yield scope, tasks
    for child in inner:
        yield from _walk(machine, child)


def _item_model(scope: Scope, tasks: list[TaskState], state: dict[str, Any]) -> type[BaseModel]:
    """The element model of the list a Map iterates (read from the Task result that wrote it)."""
    field = str(state["ItemsPath"]).removeprefix("$.")
    for task in tasks:
        output = task.task.output
        if task.state.get("ResultPath") == "$" and field in output.model_fields:
            (element,) = typing.get_args(output.model_fields[field].annotation)
            return typing.cast(type[BaseModel], element)
    raise AssertionError(f"{scope.name}: no Task result holds {field}")


ALL = [
    pytest.param(machine, scope, tasks, id=scope.name)
    for machine in STATE_MACHINES
    for scope, tasks in scopes(machine)
]


def names(model: type[BaseModel]) -> set[str]:
    """A model's fields as they appear in JSON (by alias where it has one)."""
    return {field.alias or name for name, field in model.model_fields.items()}


def result_fields(task: TaskState) -> set[str]:
    """What a Task puts at its ResultPath: its ResultSelector's keys, else its whole result."""
    selector = task.state.get("ResultSelector")
    if selector is not None:
        return {key.removesuffix(".$") for key in selector}
    return names(task.task.resumed_with or task.task.output)


def written(tasks: list[TaskState]) -> dict[str, set[str]]:
    """For each ResultPath (``$.wait``), the fields any Task may have written there."""
    paths: dict[str, set[str]] = {}
    for task in tasks:
        path = task.state.get("ResultPath", "$")
        if path is not None:
            paths.setdefault(path, set()).update(result_fields(task))
    for state in tasks[0].scope.states.values() if tasks else ():
        for catch in state.get("Catch", []):
            if catch.get("ResultPath"):
                paths.setdefault(catch["ResultPath"], set()).update({"Error", "Cause"})
    return paths


def reads(value: Any) -> Iterator[str]:
    """Every state path (``$.x.y``) a state reads, context paths (``$$.``) aside."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith(".$") or key in ("Variable", "TimeoutSecondsPath", "ItemsPath", "InputPath"):
                if isinstance(item, str) and item.startswith("$") and not item.startswith("$$"):
                    yield item
            else:
                yield from reads(item)
    elif isinstance(value, list):
        for item in value:
            yield from reads(item)


@pytest.mark.parametrize(("machine", "scope", "tasks"), ALL)
def test_every_task_is_passed_exactly_its_input_model(
    machine: StateMachineDef, scope: Scope, tasks: list[TaskState]
) -> None:
    for task in tasks:
        payload = task.state["Parameters"]["Payload"]
        given = {key.removesuffix(".$") for key in payload}
        fields = names(task.task.input)
        inputs = task.task.input.model_fields
        required = {f.alias or name for name, f in inputs.items() if f.is_required()}
        assert given <= fields, f"{task.name} passes {sorted(given - set(fields))}, not in {task.module}"
        assert required <= given, f"{task.name} does not pass {sorted(required - given)} ({task.module})"


@pytest.mark.parametrize(("machine", "scope", "tasks"), ALL)
def test_what_the_machine_reads_of_a_task_result_is_in_its_output_model(
    machine: StateMachineDef, scope: Scope, tasks: list[TaskState]
) -> None:
    for task in tasks:
        for key, path in (task.state.get("ResultSelector") or {}).items():
            field = str(path).removeprefix("$.Payload.") if str(path).startswith("$.Payload.") else None
            assert field is not None, f"{task.name}: ResultSelector {key} reads {path}, not the Payload"
            assert field in names(task.task.output), f"{task.name} reads {field}: not a field of its output"
    paths = written(tasks)
    inputs = names(scope.input) | {p.removeprefix("$.") for p in paths if p.count(".") == 1}
    for name, state in scope.states.items():
        for path in reads({k: v for k, v in state.items() if k not in NOT_STATE_READS}):
            parts = PATH.match(path)
            if path == "$" or parts is None:
                continue
            segments = parts.group(1).lstrip(".").split(".")
            root = f"$.{segments[0]}"
            if root in paths and len(segments) > 1:
                assert segments[1] in paths[root], (
                    f"{name} reads {path}: no Task writes {segments[1]} at {root}"
                )
            else:
                assert segments[0] in inputs | paths.get("$", set()), f"{name} reads {path}: not in the state"


@pytest.mark.parametrize(("machine", "scope", "tasks"), ALL)
def test_every_task_has_a_timeout_the_lambda_retries_and_a_catch(
    machine: StateMachineDef, scope: Scope, tasks: list[TaskState]
) -> None:
    catch_targets = {c["Next"] for s in scope.states.values() for c in s.get("Catch", [])}
    for task in tasks:
        state = task.state
        assert "TimeoutSeconds" in state or "TimeoutSecondsPath" in state, f"{task.name} has no timeout"
        retried = {error for retry in state.get("Retry", []) for error in retry["ErrorEquals"]}
        assert retried >= LAMBDA_ERRORS or "States.ALL" in retried, (
            f"{task.name} does not retry {LAMBDA_ERRORS}"
        )
        catches = state.get("Catch", [])
        assert catches, f"{task.name} has no Catch"
        for catch in catches:
            assert catch["Next"] in scope.states, f"{task.name} catches into {catch['Next']}, not a state"
        caught = {error for catch in catches for error in catch["ErrorEquals"]}
        # A failure path's own recorder may let anything but an outdated step fail the execution.
        assert "States.ALL" in caught or task.name in catch_targets, f"{task.name} lets errors escape"


def test_every_task_handler_declares_its_models() -> None:
    used = {HANDLERS[key] for machine in STATE_MACHINES for key in machine.function_substitutions.values()}
    declared = {module for handler in used for module in models(handler)[0]}
    assert used == declared, (
        f"declared without a Task: {sorted(declared - used)}; undeclared: {sorted(used - declared)}"
    )
