from __future__ import annotations

from functions.shared.settings import ServiceSettings, settings_getter


class StacksSettings(ServiceSettings):
    stacks_table: str = "stackpilot-local-stacks"
    stack_history_table: str = "stackpilot-local-stack-history"
    accounts_table: str = "stackpilot-local-accounts"  # read only: reaching the customer's account
    event_bus_name: str = "stackpilot-local"
    service_bucket: str = "stackpilot-local-service-123456789012-us-east-1"
    provision_stack_state_machine_arn: str = (
        "arn:aws:states:us-east-1:123456789012:stateMachine:stackpilot-local-provision-stack"
    )
    delete_stack_state_machine_arn: str = (
        "arn:aws:states:us-east-1:123456789012:stateMachine:stackpilot-local-delete-stack"
    )
    customer_assumer_role_arn: str = "arn:aws:iam::123456789012:role/stackpilot-local-customer-assumer"
    # Waiting for CloudFormation: a forwarded status event resumes the workflow at once; without one,
    # it looks after the first timeout, then doubles it up to the cap, until the give-up time.
    stack_wait_first_seconds: int = 10
    stack_wait_max_seconds: int = 120
    stack_wait_give_up_seconds: int = 4 * 3600


@settings_getter
def get_settings() -> StacksSettings:
    return StacksSettings.from_env()
