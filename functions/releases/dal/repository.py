"""The releases ports on DynamoDB."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Final

from pynamodb.exceptions import DoesNotExist, PutError, PynamoDBException
from pynamodb.transactions import TransactGet

from functions.releases.dal.models import GitDeliveryModel, GitLinkModel, GitTrackingModel
from functions.releases.exceptions import InstallationTaken, ServiceUnavailable
from functions.releases.models.routing import InstallationLink, Route
from functions.releases.settings import ReleasesSettings
from functions.shared.dal import audit_store
from functions.shared.dal.audit_store import DynamoAuditLog, MutationConflict
from functions.shared.dal.dynamo import bind, conditional_check_failed, connection
from functions.shared.models.audit import AuditDraft

# GitHub keeps deliveries (and redelivers them, on request) for 3 days: a replay inside that window
# must still read as one, with a day's margin for the reconciler's schedule.
DELIVERY_KEPT: Final = timedelta(days=4)


def configure_from(settings: ReleasesSettings) -> None:
    bind(
        settings.aws_region,
        {
            GitLinkModel: settings.git_links_table,
            GitTrackingModel: settings.git_tracking_table,
            GitDeliveryModel: settings.git_deliveries_table,
        },
    )
    audit_store.configure_from(settings)


class DynamoRouteDirectory:
    def route(self, installation_id: int, repository_id: int, branch: str) -> Route:
        """One TransactGetItems: the installation's link and the branch's tracking item."""
        meta: Any = GitLinkModel.Meta
        try:
            with TransactGet(connection=connection(meta.region)) as tx:
                link_future = tx.get(GitLinkModel, installation_id)
                tracking_future = tx.get(GitTrackingModel, repository_id, branch)
        except PynamoDBException as exc:
            raise ServiceUnavailable("the push could not be routed right now", detail=str(exc)) from exc
        try:
            link_item = link_future.get()
        except DoesNotExist:
            return Route()
        link = InstallationLink(
            link_id=link_item.link_id,
            org_id=link_item.org_id,
            installation_id=link_item.installation_id,
            status=link_item.status,
        )
        try:
            tracking = tracking_future.get()
        except DoesNotExist:
            return Route(link=link)
        if tracking.org_id != link.org_id:  # a repository moved between accounts: not this org's stacks
            return Route(link=link)
        return Route(link=link, stack_ids=tuple(sorted(tracking.stack_ids or ())))


class DynamoDeliveryLog:
    def claim(self, delivery_id: str, event: str, received_at: datetime) -> bool:
        item = GitDeliveryModel(
            delivery_id, event=event, received_at=received_at, expires_at=received_at + DELIVERY_KEPT
        )
        try:
            item.save(condition=GitDeliveryModel.delivery_id.does_not_exist())
        except PutError as exc:
            if conditional_check_failed(exc):
                return False
            raise ServiceUnavailable("the delivery could not be recorded right now", detail=str(exc)) from exc
        return True


class DynamoLinkStore:
    def __init__(self, audit: DynamoAuditLog) -> None:
        self._audit = audit

    def link(self, link: InstallationLink, account_login: str, audit: AuditDraft) -> InstallationLink:
        """One conditional put with its audit entry: the installation is unlinked, or linked to this
        org already (linking again reactivates it)."""
        item = GitLinkModel(
            link.installation_id,
            link_id=link.link_id,
            org_id=link.org_id,
            status=link.status.value,
            account_login=account_login,
            linked_by=audit.actor,
            linked_at=audit.time,
        )
        free = GitLinkModel.installation_id.does_not_exist() | (GitLinkModel.org_id == link.org_id)
        try:
            self._audit.change(audit, lambda tx: tx.save(item, condition=free))
        except MutationConflict:
            raise InstallationTaken(
                f"installation {link.installation_id} is linked to another org; it must unlink it first"
            ) from None
        return link
