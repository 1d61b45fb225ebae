"""The CloudFormation template of one application stack (DESIGN.md, workflow 2), rendered with troposphere.

``render_stack_template`` turns a :class:`StackTemplateInput` into deterministic JSON (sorted keys,
same input -> same bytes). The stack is created in the customer's account by the CloudFormation
service role of the onboarding template, so it keeps that role's naming contract
(``functions/accounts/logic/role_template/README.md``): every IAM role and instance profile has
``Path: /stackpilot/`` and the connection's ``PermissionsBoundary``, with inline policies only; the
stack's secrets are named ``stackpilot-<name>-<stage>/...``, its log groups live under
``/stackpilot/``, bucket names are generated from the stack name; the database credentials live in
such a secret (not an RDS-managed ``rds!`` one). The names both templates agree on live in
``functions/shared/logic/customer_names.py``.

One module per resource family, each with the design notes of what it renders, around a small
:class:`~functions.stacks.logic.template.context.Context` (the input, the ``Template``, ``add``,
``tags``): ``network`` (new or existing VPC, endpoints), ``nat``, ``security_groups``, ``roles``,
``instances`` (what every EC2 instance shares), ``logs`` (log groups, logs bucket), ``cluster``
(ECS on EC2), ``service`` (task definition, service, autoscaling), ``front_door`` (ALB or API
Gateway), ``database``, ``bastion``, ``build`` (with a source: ECR repository, source bucket,
CodeBuild project), ``outputs``; ``validate`` checks what the spec cannot know by
itself and ``render`` adds the families to the template in order.

Encryption
    No customer-managed KMS key: the onboarding CloudFormation role cannot create keys and the
    permissions boundary grants workload roles no KMS use, so AWS-managed keys are used (S3 SSE-S3 -
    the only option ALB access logs accept -, ``aws/rds``, ``aws/secretsmanager``, encrypted EBS
    volumes with the account default key; CloudWatch Logs encrypts at rest).

Known limits: the new-VPC layout needs a region where the account sees 3 AZs; images must be public
or come from this account's ``stackpilot-*`` ECR repositories in the stack's region (the boundary).
This package is framework-free: troposphere and the standard library only. Only the code path that
renders imports it (``functions/stacks/logic/rendering.py``): troposphere is slow to import.
"""

from __future__ import annotations

from functions.stacks.logic.template.context import StackTemplateInput
from functions.stacks.logic.template.render import render_stack_template
from functions.stacks.models.spec import secret_name

__all__ = ["StackTemplateInput", "render_stack_template", "secret_name"]
