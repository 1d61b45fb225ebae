"""What a synthesis of the CDK app is, for the fixture that makes it (``conftest.py``) and the tests
that read it: the templates, the regions, the cdk-nag report and the scanners started on it."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from infra.definitions import Names

if TYPE_CHECKING:
    from infra.constructs.nag import AcknowledgedRule

STAGE = "dev"


@dataclass
class Scan:
    process: subprocess.Popen[str]
    _output: tuple[str, str] | None = None

    def result(self) -> tuple[int, str, str]:
        if self._output is None:
            self._output = self.process.communicate(timeout=180)
        return self.process.returncode, *self._output


@dataclass
class Synthesis:
    app: Any  # aws_cdk.App
    outdir: Path
    error: str | None
    templates: dict[str, dict[str, Any]]  # stack name -> template
    regions: dict[str, str]  # stack name -> region
    home_stack: str
    stage: str = STAGE
    scans: dict[str, Scan] = field(default_factory=dict)  # cfn-lint, checkov: started at synthesis
    names: Names = field(init=False)

    def __post_init__(self) -> None:
        # Account and region are CloudFormation pseudo parameters in the templates.
        self.names = Names(self.stage, "${AWS::AccountId}", self.regions[self.home_stack])

    @property
    def home(self) -> dict[str, Any]:
        return self.templates[self.home_stack]

    def validation_report(self) -> dict[str, Any]:
        return json.loads((self.outdir / "validation-report.json").read_text())

    @cached_property
    def acknowledgments(self) -> list[AcknowledgedRule]:
        from infra.constructs.nag import acknowledged_rules

        return list(acknowledged_rules(self.outdir))
