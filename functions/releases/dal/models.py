"""pynamodb models: the releases domain's tables (the CDK app and the local cloud create them from
these)."""

from __future__ import annotations

from pynamodb.attributes import (
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class OrgLinksIndex(GlobalSecondaryIndex["GitLinkModel"]):  # type: ignore[no-untyped-call]
    """An org's links (GET /git/links)."""

    class Meta:
        index_name = "org_id-index"
        projection = AllProjection()

    org_id = UnicodeAttribute(hash_key=True)
    link_id = UnicodeAttribute(range_key=True)


class GitLinkModel(Model):
    """An installation of the GitHub App and the org it is linked to. Keyed by the installation, so
    one installation belongs to one org by a conditional put."""

    class Meta:
        table_name = "git-links"
        billing_mode = "PAY_PER_REQUEST"

    installation_id = NumberAttribute(hash_key=True)
    link_id = UnicodeAttribute()
    org_id = UnicodeAttribute()
    status = UnicodeAttribute()
    account_login = UnicodeAttribute(null=True)
    linked_by = UnicodeAttribute(null=True)
    linked_at = UTCDateTimeAttribute(null=True)

    by_org = OrgLinksIndex()


class GitTrackingModel(Model):
    """The stacks tracking one branch of one repository (by GitHub's repository id, which a rename
    keeps), with the org they belong to."""

    class Meta:
        table_name = "git-tracking"
        billing_mode = "PAY_PER_REQUEST"

    repository_id = NumberAttribute(hash_key=True)
    branch = UnicodeAttribute(range_key=True)
    org_id = UnicodeAttribute()
    stack_ids = UnicodeSetAttribute(default=set)


class GitDeliveryModel(Model):
    """A delivery received, by GitHub's delivery id; kept past GitHub's 3-day redelivery window."""

    class Meta:
        table_name = "git-deliveries"
        billing_mode = "PAY_PER_REQUEST"

    delivery_id = UnicodeAttribute(hash_key=True)
    event = UnicodeAttribute()
    received_at = UTCDateTimeAttribute()
    expires_at = TTLAttribute()
