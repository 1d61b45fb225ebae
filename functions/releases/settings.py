from __future__ import annotations

from functions.shared.settings import ServiceSettings, settings_getter


class ReleasesSettings(ServiceSettings):
    git_links_table: str = "stackpilot-local-git-links"
    git_tracking_table: str = "stackpilot-local-git-tracking"
    git_deliveries_table: str = "stackpilot-local-git-deliveries"
    release_state_machine_arn: str = (
        "arn:aws:states:us-east-1:123456789012:stateMachine:stackpilot-local-release"
    )
    # The GitHub App (DESIGN.md workflow 3): the API base URL (github.com's or a GitHub Enterprise
    # Server's; the local GitHub's on a laptop), its ids, and where its secrets live.
    github_api_url: str = "https://api.github.com"
    github_app_id: str = ""
    github_client_id: str = ""
    github_webhook_secret_arn: str = ""
    github_private_key_arn: str = ""
    github_client_secret_arn: str = ""


@settings_getter
def get_settings() -> ReleasesSettings:
    return ReleasesSettings.from_env()
