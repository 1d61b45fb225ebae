"""Rendering: validate the input, then add each resource family to the template in order."""

from __future__ import annotations

from troposphere import Template

from functions.stacks.logic.template.bastion import bastion
from functions.stacks.logic.template.build import build
from functions.stacks.logic.template.cluster import cluster
from functions.stacks.logic.template.context import Context, StackTemplateInput
from functions.stacks.logic.template.database import database
from functions.stacks.logic.template.front_door import api_gateway, public_alb
from functions.stacks.logic.template.logs import log_group, logs_bucket
from functions.stacks.logic.template.network import existing_vpc, new_vpc
from functions.stacks.logic.template.outputs import outputs
from functions.stacks.logic.template.security_groups import security_groups
from functions.stacks.logic.template.service import autoscaling, service, task_definition
from functions.stacks.logic.template.validate import validate
from functions.stacks.models.spec import NewVpc


def render_stack_template(inp: StackTemplateInput) -> str:
    """The stack's template as JSON text. Same input -> same bytes. Raises ``ValueError`` on bad input."""
    validate(inp)
    return str(_build(Context(inp)).to_json(indent=1, sort_keys=True)) + "\n"


def _build(ctx: Context) -> Template:
    spec = ctx.spec
    net = new_vpc(ctx) if isinstance(spec.network, NewVpc) else existing_vpc(ctx)
    sgs = security_groups(ctx, net)
    bucket = logs_bucket(ctx)
    ecs_cluster, capacity = cluster(ctx, net, sgs)
    app_log_group = log_group(ctx, "AppLogGroup", "app")
    db = database(ctx, net, sgs) if spec.database else None
    task = task_definition(ctx, app_log_group, db)
    if spec.front_door == "alb":
        target_group, listener, endpoint = public_alb(ctx, net, sgs, bucket)
    else:
        target_group, listener, endpoint = api_gateway(ctx, net, sgs, bucket)
    ecs_service = service(ctx, net, sgs, ecs_cluster, capacity, task, target_group, listener)
    autoscaling(ctx, ecs_cluster, ecs_service)
    host = bastion(ctx, net, sgs) if spec.bastion else None
    builds = build(ctx) if spec.source else None
    outputs(ctx, net, ecs_cluster, ecs_service, endpoint, app_log_group, db, host, builds)
    return ctx.t
