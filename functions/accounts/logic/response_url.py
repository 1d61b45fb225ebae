"""Allowlist for CloudFormation custom-resource ``ResponseURL`` values (DESIGN.md, workflow 1, step 5).

The callback message that carries the ResponseURL is unauthenticated: anybody can publish a
look-alike to our topic. Before stackpilot PUTs its answer, the URL must be the pre-signed S3 URL
that CloudFormation itself issues for the stack's region - otherwise we would be an open
server-side request forger (instance metadata, internal services, arbitrary hosts).

Rules (all must hold):

* ``https`` only; port absent or 443; no userinfo, no fragment, printable ASCII only (no
  backslashes, spaces, control characters or percent-encoding in the host);
* host, compared case-insensitively (non-ASCII/IDNA hosts are refused outright: the real hosts are
  plain ASCII, and punycode never equals them), is one of CloudFormation's response buckets for **the stack's
  region** - ``cloudformation-custom-resource-response-<region without dashes>`` at
  ``.s3.amazonaws.com``, ``.s3.<region>.amazonaws.com`` or ``.s3-<region>.amazonaws.com``
  (``.amazonaws.com.cn`` in the China regions); no IP literals, no trailing dot;
* the query carries a pre-signature: SigV4 (``X-Amz-Algorithm=AWS4-HMAC-SHA256``,
  ``X-Amz-Credential``, ``X-Amz-Date``, ``X-Amz-Expires``, ``X-Amz-Signature``) or the legacy SigV2
  form (``AWSAccessKeyId``, ``Expires``, ``Signature``) that CloudFormation still issues in some
  regions; no parameter appears twice;
* if a ``resolve`` callable is given, every address the host resolves to is public (not loopback,
  private, link-local - 169.254.169.254 included -, CGNAT, multicast, reserved, unspecified, or an
  IPv4-mapped/NAT64 form of those). The AWS integration passes a DNS resolver; the local cloud none.

What the caller must still do (this module only decides):

* never follow redirects (a 3xx from the PUT is a failure, not a new URL to try);
* connect to an address that was checked (pin the resolved address, or resolve again through the
  same check) so DNS rebinding cannot swap it between check and use;
* send at most :data:`MAX_RESPONSE_BODY_BYTES`;
* never log the URL: its query holds a signature and a session token. Log :func:`redact` output.

Framework-free: standard library only.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from functions.accounts.exceptions import ResponseUrlRejected

__all__ = [
    "MAX_RESPONSE_BODY_BYTES",
    "MAX_RESPONSE_URL_LENGTH",
    "ResponseUrlRejected",
    "allowed_hosts",
    "check_response_url",
    "is_public_address",
    "redact",
]

#: CloudFormation refuses custom-resource responses above 4096 bytes.
MAX_RESPONSE_BODY_BYTES: Final = 4096

#: Real pre-signed response URLs (session token included) stay well under this.
MAX_RESPONSE_URL_LENGTH: Final = 8192

_BUCKET: Final = "cloudformation-custom-resource-response-"
_REGION_RE: Final = re.compile(r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}")
_PRINTABLE_ASCII_RE: Final = re.compile(r"[\x21-\x7e]+")
_HOST_RE: Final = re.compile(r"[a-z0-9.-]+")

_SIGV4_ALGORITHM: Final = "AWS4-HMAC-SHA256"
_SIGV4_KEYS: Final = frozenset(
    {"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-Signature"}
)
_SIGV4_DATE_RE: Final = re.compile(r"\d{8}T\d{6}Z")
_SIGV4_SIG_RE: Final = re.compile(r"[0-9a-f]{64}")
_SIGV2_KEYS: Final = frozenset({"AWSAccessKeyId", "Expires", "Signature"})
_DIGITS_RE: Final = re.compile(r"\d{1,12}")

# Shared address space (RFC 6598): not covered by ipaddress' is_private on every Python version.
_CGNAT: Final = ipaddress.ip_network("100.64.0.0/10")
_NAT64: Final = ipaddress.ip_network("64:ff9b::/96")


def allowed_hosts(region: str) -> frozenset[str]:
    """The response-bucket host names CloudFormation uses for ``region`` (lower case)."""
    if not isinstance(region, str) or not _REGION_RE.fullmatch(region):
        raise ValueError("invalid region")
    bucket = _BUCKET + region.replace("-", "")
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return frozenset(
        {
            f"{bucket}.s3.{domain}",
            f"{bucket}.s3.{region}.{domain}",
            f"{bucket}.s3-{region}.{domain}",
        }
    )


def redact(url: str) -> str:
    """``scheme://host`` of ``url`` - safe for logs and messages (no userinfo, path or query)."""
    if not isinstance(url, str):
        return "<unparseable url>"
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except (ValueError, TypeError, AttributeError):
        return "<unparseable url>"
    scheme = parts.scheme.lower()
    if not (_PRINTABLE_ASCII_RE.fullmatch(scheme) and _PRINTABLE_ASCII_RE.fullmatch(host)):
        return "<unparseable url>"
    return f"{scheme}://{host[:255]}"


def check_response_url(url: str, *, region: str, resolve: Callable[[str], list[str]] | None = None) -> str:
    """Return ``url`` unchanged if stackpilot may PUT the custom-resource answer to it.

    Raises :class:`ResponseUrlRejected` otherwise. ``resolve(host)`` -> IP address strings; when
    given, it is called only for an allowed host, every address must be public, and whatever it
    raises propagates unchanged.
    """
    hosts = _hosts_for(region)
    if not isinstance(url, str) or not url:
        raise ResponseUrlRejected("ResponseURL is missing")
    if len(url) > MAX_RESPONSE_URL_LENGTH:
        raise ResponseUrlRejected("ResponseURL is too long")
    # Backslashes, whitespace, control and non-ASCII characters are how parsers get confused
    # into disagreeing about the host; real pre-signed URLs contain none of them.
    if not _PRINTABLE_ASCII_RE.fullmatch(url) or "\\" in url:
        raise ResponseUrlRejected("ResponseURL contains characters a pre-signed S3 URL never has")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise ResponseUrlRejected("ResponseURL cannot be parsed") from None
    if parts.scheme.lower() != "https":
        raise ResponseUrlRejected("ResponseURL must use https")
    host = _check_authority(parts.netloc)
    if host not in hosts:
        raise ResponseUrlRejected(
            f"ResponseURL host {host[:100]!r} is not CloudFormation's response endpoint for {region}"
        )
    if parts.fragment or "#" in url:
        raise ResponseUrlRejected("ResponseURL must not have a fragment")
    if len(parts.path) < 2 or not parts.path.startswith("/"):
        raise ResponseUrlRejected("ResponseURL has no object path")
    _check_signature(parts.query)
    if resolve is not None:
        _check_addresses(host, resolve)
    return url


def _hosts_for(region: str) -> frozenset[str]:
    try:
        return allowed_hosts(region)
    except ValueError:
        # The region comes from the request's StackId, which anyone can write.
        raise ResponseUrlRejected("the stack's region has no CloudFormation response endpoint") from None


def _check_authority(netloc: str) -> str:
    """Host of ``netloc`` (lower case) after refusing userinfo, odd ports and non-DNS hosts."""
    if "@" in netloc:
        raise ResponseUrlRejected("ResponseURL must not carry user information")
    if "%" in netloc:
        raise ResponseUrlRejected("ResponseURL host must not be percent-encoded")
    if netloc.startswith("["):
        raise ResponseUrlRejected("ResponseURL host must not be an IP address")
    host, sep, port = netloc.partition(":")
    if sep and port != "443":
        raise ResponseUrlRejected("ResponseURL port must be 443")
    host = host.lower()
    if not host or not _HOST_RE.fullmatch(host):
        raise ResponseUrlRejected("ResponseURL host is not a DNS name")
    if host.endswith(".") or ".." in host:
        raise ResponseUrlRejected("ResponseURL host is not a canonical DNS name")
    if _is_ip_literal(host):
        raise ResponseUrlRejected("ResponseURL host must not be an IP address")
    return host


def _is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        # Also the numeric forms some resolvers accept ("2130706433", "0x7f.1", "127.1").
        return bool(re.fullmatch(r"(?:0x[0-9a-f]*|\d+)(?:\.(?:0x[0-9a-f]*|\d+)){0,3}", host))
    return True


def _check_signature(query: str) -> None:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ResponseUrlRejected("ResponseURL query cannot be parsed") from None
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ResponseUrlRejected("ResponseURL repeats a query parameter")
    params = dict(pairs)
    if params.keys() >= _SIGV4_KEYS:
        valid = (
            params["X-Amz-Algorithm"] == _SIGV4_ALGORITHM
            and params["X-Amz-Credential"].count("/") == 4
            and bool(_SIGV4_DATE_RE.fullmatch(params["X-Amz-Date"]))
            and bool(_DIGITS_RE.fullmatch(params["X-Amz-Expires"]))
            and bool(_SIGV4_SIG_RE.fullmatch(params["X-Amz-Signature"]))
        )
    elif params.keys() >= _SIGV2_KEYS:
        valid = (
            bool(params["AWSAccessKeyId"])
            and bool(_DIGITS_RE.fullmatch(params["Expires"]))
            and bool(params["Signature"])
        )
    else:
        raise ResponseUrlRejected("ResponseURL is not a pre-signed S3 URL")
    if not valid:
        raise ResponseUrlRejected("ResponseURL pre-signature is malformed")


def _check_addresses(host: str, resolve: Callable[[str], list[str]]) -> None:
    # A resolver exception propagates unchanged: a DNS outage is the caller's (retryable) delivery
    # failure, not a verdict on the URL. Nothing is fetched either way.
    addresses = list(resolve(host))
    if not addresses:
        raise ResponseUrlRejected("ResponseURL host could not be resolved")
    for address in addresses:
        if not is_public_address(address):
            raise ResponseUrlRejected("ResponseURL host resolves to a non-public address")


def is_public_address(address: str) -> bool:
    """True if ``address`` is a globally routable unicast IP (IPv4-mapped and NAT64 IPv6 forms are
    judged by the IPv4 address they carry)."""
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    try:
        ip = ipaddress.ip_address(address.strip().split("%", 1)[0])
    except (ValueError, AttributeError):
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None:
            ip = embedded
        elif ip.sixtofour is not None or ip.teredo is not None:
            return False  # tunnelled addresses hide where they really lead
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return False
    return bool(
        ip.is_global
        and not (
            ip.is_loopback
            or ip.is_private
            or ip.is_link_local
            or ip.is_multicast
            or ip.is_reserved
            or ip.is_unspecified
        )
    )
