"""The CloudFormation template a customer deploys to connect an AWS account (DESIGN.md, workflow 1).

Why the roles are shaped the way they are, and the naming contract they enforce: README.md, beside this file.
"""

from __future__ import annotations

from functions.accounts.logic.role_template.context import RoleTemplateInput
from functions.accounts.logic.role_template.render import render_role_template
from functions.shared.logic.customer_names import (
    CONTROL_PATH,
    TEMPLATE_VERSION,
    cloudformation_role_arn,
    cloudformation_role_name,
    connection_suffix,
    deploy_role_arn,
    deploy_role_name,
    onboarding_stack_name,
    permissions_boundary_arn,
    permissions_boundary_name,
    quick_create_url,
)

__all__ = [
    "CONTROL_PATH",
    "TEMPLATE_VERSION",
    "RoleTemplateInput",
    "cloudformation_role_arn",
    "cloudformation_role_name",
    "connection_suffix",
    "deploy_role_arn",
    "deploy_role_name",
    "onboarding_stack_name",
    "permissions_boundary_arn",
    "permissions_boundary_name",
    "quick_create_url",
    "render_role_template",
]
