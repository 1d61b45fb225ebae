"""The workflows' Task contract: every sample in events/sfn/ validates against the model of the Task
(or execution) it names, and every Task and execution model has a sample."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from pydantic import BaseModel

from tests.events import EVENTS_DIR, load_event

DOMAINS = ("accounts", "stacks")
SAMPLES = sorted(str(p.relative_to(EVENTS_DIR / "sfn")) for p in (EVENTS_DIR / "sfn").rglob("*.json"))


def contract() -> dict[str, type[BaseModel]]:
    """``<domain>/<handler module>.<input|output|resumed>.json`` and ``<domain>/<machine>.execution.json``
    -> the model each sample must validate against."""
    expected: dict[str, type[BaseModel]] = {}
    for domain in DOMAINS:
        workflow = importlib.import_module(f"functions.{domain}.models.workflow")
        for module, task in workflow.TASKS.items():
            name = module.rpartition(".")[2]
            expected[f"{domain}/{name}.input.json"] = task.input
            expected[f"{domain}/{name}.output.json"] = task.output
            if task.resumed_with is not None:
                expected[f"{domain}/{name}.resumed.json"] = task.resumed_with
        for machine, model in workflow.EXECUTIONS.items():
            expected[f"{domain}/{machine}.execution.json"] = model
    return expected


CONTRACT = contract()


@pytest.mark.parametrize("sample", SAMPLES)
def test_every_workflow_sample_validates_against_its_model(sample: str) -> None:
    assert sample in CONTRACT, f"events/sfn/{sample} names no Task or execution of {DOMAINS}"
    body = load_event(f"sfn/{sample}")
    parsed = CONTRACT[sample].model_validate(body)
    if sample.endswith(".output.json"):
        # an answer's sample is exactly what its handler dumps: nothing lost or renamed on the way back
        assert parsed.model_dump(mode="json", by_alias=True) == body


@pytest.mark.parametrize("sample", sorted(CONTRACT))
def test_every_task_and_execution_model_has_a_sample(sample: str) -> None:
    assert Path(EVENTS_DIR / "sfn" / sample).exists(), f"events/sfn/{sample} is missing"


def test_the_workflow_input_sample_carries_ids_only() -> None:
    # ids, and the account and region (fixed for a connection, no secret): never ExternalId or nonce
    payload = load_event("sfn/accounts/connect-account.execution.json")
    assert set(payload) == {"org_id", "connection_id", "aws_account_id", "region", "connect_window_seconds"}
