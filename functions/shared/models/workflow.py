"""What every workflow Task shares: the error Step Functions hands a failure path, and how a domain
declares its Tasks' input and output models (``functions/<domain>/models/workflow.py``), which the
handlers parse and dump and an infrastructure test holds the state machines' paths to."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class TaskModel(BaseModel):
    """A Task's input or output: exactly the fields the state machine passes or reads."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class StepError(TaskModel):
    """A Catch's ``ResultPath`` holds this: the error's name (the exception class or ``States.*``)
    and its cause (a Lambda error's JSON: errorType, errorMessage, stackTrace)."""

    error: str = Field(alias="Error")
    cause: str | None = Field(default=None, alias="Cause")


@dataclass(frozen=True)
class Task:
    """One Lambda a state machine invokes: what it is given, what it answers, and (for a
    ``.waitForTaskToken`` Task) what resumes it, which is the Task's result in the state."""

    input: type[TaskModel]
    output: type[TaskModel]
    resumed_with: type[TaskModel] | None = None
