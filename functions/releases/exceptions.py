"""Domain errors. Class names are the contract with the ASL's Retry/Catch; the kind each derives
from (``functions/shared/errors.py``) is its answer to an API caller."""

from __future__ import annotations

from functions.shared.errors import Conflict, DependencyDown, Forbidden, StackpilotError, Unauthenticated


class ReleasesError(StackpilotError):
    """Base class; ``str(e)`` is a reason a user can act on."""


# --- receiving a webhook: what a sender reads in its delivery log. Never the secret, the expected
# signature or anything derived from them.
class SignatureRefused(ReleasesError, Unauthenticated):
    """The delivery's signature is missing, malformed, of another algorithm, or wrong: 401."""


class WebhookSecretMissing(ReleasesError, DependencyDown):
    """No webhook secret is configured: nothing can be verified, so nothing is accepted (503; the
    operator is told in the logs)."""


class MalformedDelivery(ReleasesError):
    """An authentic delivery whose body is not the JSON its event promises: 400."""


class DeliveryTooLarge(ReleasesError):
    """A body larger than GitHub ever sends (25 MB): 413, refused before it is verified or read."""


class ServiceUnavailable(ReleasesError, DependencyDown):
    """A dependency failed; nothing was left half-written (a redelivery will be taken)."""


# --- linking an installation to an org (the install flow)
class InstallRefused(ReleasesError, Forbidden):
    """The setup request cannot link anything: its state is forged, expired or used, or the user who
    came back from GitHub cannot see the installation named (403; nothing is linked)."""


class InstallationTaken(ReleasesError, Conflict):
    """The installation is linked to another org already: one installation belongs to one org (409)."""
