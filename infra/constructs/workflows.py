"""State machines from their ASL files (never rebuilt with CDK chainables).

The ASL is opaque to CDK, so the permissions it implies are written out: the machine's role may
invoke exactly the functions substituted into it. Logging is ERROR-level without execution data:
inputs and outputs carry org ids, role ARNs and task tokens that must not reach CloudWatch Logs.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs import nag
from infra.constructs.service_function import LOG_RETENTION, ServiceFunction
from infra.definitions import STATE_MACHINES, Names, StateMachineDef, asl_placeholders


class Workflows(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Names,
        functions: Mapping[str, ServiceFunction],
        encryption_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
        self.state_machines: dict[str, sfn.StateMachine] = {
            sm.key: self._state_machine(sm, names, functions, encryption_key) for sm in STATE_MACHINES
        }

    def _state_machine(
        self,
        definition: StateMachineDef,
        names: Names,
        functions: Mapping[str, ServiceFunction],
        key: kms.IKey,
    ) -> sfn.StateMachine:
        placeholders = asl_placeholders(definition)
        if placeholders != set(definition.function_substitutions):
            raise ValueError(
                f"{definition.asl_path.name}: placeholders {sorted(placeholders)} != "
                f"substitutions {sorted(definition.function_substitutions)}"
            )
        substituted = {ph: functions[fn_key] for ph, fn_key in definition.function_substitutions.items()}
        name = names.state_machine(definition.key)
        # /aws/vendedlogs/ keeps CloudWatch Logs' resource policy from growing with every machine.
        log_group = logs.LogGroup(
            self,
            f"{definition.construct_id}Logs",
            log_group_name=f"/aws/vendedlogs/states/{name}",
            retention=LOG_RETENTION,
            encryption_key=key,
            removal_policy=RemovalPolicy.DESTROY,  # errors only, no data; history stays in Step Functions
        )
        machine = sfn.StateMachine(
            self,
            definition.construct_id,
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_string(definition.asl_path.read_text()),
            definition_substitutions={ph: fn.function_arn for ph, fn in substituted.items()},
            tracing_enabled=True,
            logs=sfn.LogOptions(
                destination=log_group, level=sfn.LogLevel.ERROR, include_execution_data=False
            ),
        )
        # Unqualified ARNs, as substituted: no ':*' for versions or aliases the ASL never names.
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=list(dict.fromkeys(fn.function_arn for fn in substituted.values())),
            )
        )
        nag.acknowledge_wildcard(
            machine.role,
            "Resource::*",
            "X-Ray tracing and CloudWatch Logs delivery (logs:CreateLogDelivery and friends) support "
            "no resource-level permissions; CDK grants them on '*' for tracing and logging.",
        )
        nag.acknowledge(
            machine,
            "AwsSolutions-SF1",
            "Logs at ERROR level without execution data on purpose: inputs carry task tokens and "
            "customer role ARNs that must never reach CloudWatch Logs; the full history stays in "
            "Step Functions.",
        )
        return machine
