"""The ResponseURL allowlist: only CloudFormation's pre-signed S3 response URLs of the stack's region."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.accounts.logic.response_url import (
    MAX_RESPONSE_BODY_BYTES,
    ResponseUrlRejected,
    allowed_hosts,
    check_response_url,
    is_public_address,
    redact,
)

SIGNATURE = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
SIGV4 = (
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20240102T030405Z&X-Amz-SignedHeaders=host"
    "&X-Amz-Expires=7199&X-Amz-Credential=AKIAEXAMPLE%2F20240102%2Fus-east-1%2Fs3%2Faws4_request"
    f"&X-Amz-Signature={SIGNATURE}"
)
SIGV4_WITH_TOKEN = SIGV4 + "&X-Amz-Security-Token=IQoJb3JpZ2luX2VjEXAMPLE%2Ftoken%3D%3D"
SIGV2 = "AWSAccessKeyId=AKIAEXAMPLE&Expires=1704164645&Signature=dGhpcyBpcyBhIHNpZw%3D%3D"
PATH = (
    "/arn%3Aaws%3Acloudformation%3Aus-east-1%3A123456789012%3Astack/StackpilotConnection-abc/"
    "1b2c3d4e-0000-1111-2222-333344445555%7CStackpilotConnection%7C6f9e8d7c-aaaa-bbbb-cccc-ddddeeeeffff"
)
HOST = "cloudformation-custom-resource-response-useast1.s3.amazonaws.com"
GOOD = f"https://{HOST}{PATH}?{SIGV4}"


def _public(_host: str) -> list[str]:
    return ["52.217.1.2"]


# --- accepted -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "host"),
    [
        ("us-east-1", "cloudformation-custom-resource-response-useast1.s3.amazonaws.com"),
        ("us-east-1", "cloudformation-custom-resource-response-useast1.s3.us-east-1.amazonaws.com"),
        ("eu-west-1", "cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com"),
        ("eu-west-1", "cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com"),
        ("eu-west-1", "cloudformation-custom-resource-response-euwest1.s3.amazonaws.com"),
        (
            "ap-southeast-2",
            "cloudformation-custom-resource-response-apsoutheast2.s3.ap-southeast-2.amazonaws.com",
        ),
        (
            "us-gov-west-1",
            "cloudformation-custom-resource-response-usgovwest1.s3.us-gov-west-1.amazonaws.com",
        ),
        ("cn-north-1", "cloudformation-custom-resource-response-cnnorth1.s3.cn-north-1.amazonaws.com.cn"),
    ],
)
@pytest.mark.parametrize("query", [SIGV4, SIGV4_WITH_TOKEN, SIGV2])
def test_accepts_cloudformation_response_urls_of_the_region(region: str, host: str, query: str) -> None:
    url = f"https://{host}{PATH}?{query}"
    assert check_response_url(url, region=region) == url
    assert check_response_url(url, region=region, resolve=_public) == url


@pytest.mark.parametrize(
    "url",
    [
        GOOD.replace(HOST, HOST.upper()),  # hosts compare case-insensitively
        GOOD.replace("https://", "HTTPS://"),
        GOOD.replace(HOST, HOST + ":443"),
    ],
)
def test_accepts_equivalent_spellings(url: str) -> None:
    assert check_response_url(url, region="us-east-1") == url


def test_returns_the_url_unchanged() -> None:
    assert check_response_url(GOOD, region="us-east-1") is GOOD


def test_body_limit_is_cloudformations() -> None:
    assert MAX_RESPONSE_BODY_BYTES == 4096


# --- refused ------------------------------------------------------------------------------------

HOSTILE = {
    "http": GOOD.replace("https://", "http://"),
    "ftp": GOOD.replace("https://", "ftp://"),
    "no scheme": GOOD.removeprefix("https:"),
    "localhost": f"https://localhost{PATH}?{SIGV4}",
    "loopback v4": f"https://127.0.0.1{PATH}?{SIGV4}",
    "loopback short": f"https://127.1{PATH}?{SIGV4}",
    "loopback decimal": f"https://2130706433{PATH}?{SIGV4}",
    "loopback hex": f"https://0x7f.0.0.1{PATH}?{SIGV4}",
    "loopback v6": f"https://[::1]{PATH}?{SIGV4}",
    "mapped v6": f"https://[::ffff:169.254.169.254]{PATH}?{SIGV4}",
    "metadata": f"https://169.254.169.254/latest/meta-data/iam/?{SIGV4}",
    "metadata port": f"https://169.254.169.254:443{PATH}?{SIGV4}",
    "private 10": f"https://10.0.0.1{PATH}?{SIGV4}",
    "private 172": f"https://172.16.0.1{PATH}?{SIGV4}",
    "private 192": f"https://192.168.1.1{PATH}?{SIGV4}",
    "other host": f"https://example.com{PATH}?{SIGV4}",
    "plain s3": f"https://s3.amazonaws.com/{HOST}{PATH}?{SIGV4}",
    "other bucket": f"https://attacker-bucket.s3.amazonaws.com{PATH}?{SIGV4}",
    "suffix look-alike": f"https://{HOST}.evil.com{PATH}?{SIGV4}",
    "prefix look-alike": f"https://evil{HOST}{PATH}?{SIGV4}",
    "subdomain look-alike": f"https://x.{HOST}{PATH}?{SIGV4}",
    "host in path": f"https://evil.com/{HOST}{PATH}?{SIGV4}",
    "userinfo": f"https://{HOST}@evil.com{PATH}?{SIGV4}",
    "userinfo with password": f"https://{HOST}:443@evil.com{PATH}?{SIGV4}",
    "userinfo on good host": f"https://user:pass@{HOST}{PATH}?{SIGV4}",
    "backslash": f"https://evil.com\\@{HOST}{PATH}?{SIGV4}",
    "backslash path": f"https://{HOST}\\{PATH}?{SIGV4}",
    "trailing dot": f"https://{HOST}.{PATH}?{SIGV4}",
    "double dot": f"https://cloudformation-custom-resource-response-useast1..s3.amazonaws.com{PATH}?{SIGV4}",
    "percent host": GOOD.replace("useast1", "%75seast1"),
    "unicode host": GOOD.replace("cloudformation", "cloudf\u043ermation"),
    "fullwidth dot": GOOD.replace(".s3.", "\uff0es3."),
    "space": GOOD.replace(HOST, HOST + " "),
    "tab": GOOD.replace(HOST, HOST + "\t"),
    "newline": GOOD.replace(PATH, PATH + "\r\nHost: evil.com"),
    "nul": GOOD.replace(HOST, HOST + "\x00.evil.com"),
    "wrong region": GOOD.replace("useast1", "euwest1"),
    "wrong regional host": f"https://cloudformation-custom-resource-response-useast1.s3.eu-west-1.amazonaws.com{PATH}?{SIGV4}",
    "dualstack": f"https://cloudformation-custom-resource-response-useast1.s3.dualstack.us-east-1.amazonaws.com{PATH}?{SIGV4}",
    "port 444": GOOD.replace(HOST, HOST + ":444"),
    "port 80": GOOD.replace(HOST, HOST + ":80"),
    "port 8443": GOOD.replace(HOST, HOST + ":8443"),
    "port 0443": GOOD.replace(HOST, HOST + ":0443"),
    "empty port": GOOD.replace(HOST, HOST + ":"),
    "fragment": GOOD + "#frag",
    "no path": f"https://{HOST}?{SIGV4}",
    "root path": f"https://{HOST}/?{SIGV4}",
    "no query": f"https://{HOST}{PATH}",
    "missing signature": f"https://{HOST}{PATH}?{SIGV4.split('&X-Amz-Signature')[0]}",
    "missing expires": f"https://{HOST}{PATH}?{SIGV4.replace('&X-Amz-Expires=7199', '')}",
    "wrong algorithm": GOOD.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1"),
    "bad signature": GOOD.replace(SIGNATURE, "zz"),
    "bad date": GOOD.replace("20240102T030405Z", "yesterday"),
    "duplicate param": GOOD + "&X-Amz-Signature=" + "0" * 64,
    "sigv2 missing signature": f"https://{HOST}{PATH}?AWSAccessKeyId=AKIA&Expires=1704164645",
    "sigv2 bad expires": f"https://{HOST}{PATH}?AWSAccessKeyId=AKIA&Expires=soon&Signature=abc",
    "unrelated query": f"https://{HOST}{PATH}?a=b",
    "empty": "",
    "too long": GOOD + "&pad=" + "a" * 9000,
}


@pytest.mark.parametrize("url", HOSTILE.values(), ids=HOSTILE.keys())
def test_refuses_hostile_urls(url: str) -> None:
    with pytest.raises(ResponseUrlRejected) as excinfo:
        check_response_url(url, region="us-east-1")
    message = str(excinfo.value)
    assert SIGNATURE not in message
    assert "X-Amz" not in message
    assert "AKIA" not in message


@pytest.mark.parametrize("not_a_string", [None, b"https://x", 42])
def test_refuses_non_strings(not_a_string: object) -> None:
    with pytest.raises(ResponseUrlRejected):
        check_response_url(not_a_string, region="us-east-1")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "addresses",
    [
        ["127.0.0.1"],
        ["10.1.2.3"],
        ["172.31.255.254"],
        ["192.168.0.10"],
        ["169.254.169.254"],
        ["100.64.0.1"],  # CGNAT
        ["0.0.0.0"],  # noqa: S104 - an address to refuse, not to bind
        ["224.0.0.1"],
        ["240.0.0.1"],
        ["255.255.255.255"],
        ["::1"],
        ["::"],
        ["fe80::1"],
        ["fe80::1%eth0"],
        ["fc00::1"],
        ["fd00:ec2::254"],  # IMDS over IPv6
        ["ff02::1"],
        ["::ffff:127.0.0.1"],
        ["::ffff:169.254.169.254"],
        ["64:ff9b::a9fe:a9fe"],  # NAT64 form of 169.254.169.254
        ["2002:7f00:1::1"],  # 6to4
        ["52.217.1.2", "10.0.0.1"],  # one bad address is enough
        [],
        ["not-an-ip"],
    ],
)
def test_refuses_hosts_resolving_to_non_public_addresses(addresses: list[str]) -> None:
    with pytest.raises(ResponseUrlRejected, match="resol"):
        check_response_url(GOOD, region="us-east-1", resolve=lambda _host: addresses)


def test_resolver_failures_propagate_and_nothing_is_accepted() -> None:
    class DnsDown(Exception):
        pass

    def broken(_host: str) -> list[str]:
        raise DnsDown("SERVFAIL")

    with pytest.raises(DnsDown):
        check_response_url(GOOD, region="us-east-1", resolve=broken)


def test_resolver_receives_the_normalised_host() -> None:
    seen: list[str] = []

    def resolver(host: str) -> list[str]:
        seen.append(host)
        return ["52.217.1.2", "2600:1f18::1"]

    check_response_url(GOOD.replace(HOST, HOST.upper()), region="us-east-1", resolve=resolver)
    assert seen == [HOST]


def test_resolver_is_not_consulted_for_refused_hosts() -> None:
    called = False

    def resolver(_host: str) -> list[str]:
        nonlocal called
        called = True
        return ["52.217.1.2"]

    with pytest.raises(ResponseUrlRejected):
        check_response_url(HOSTILE["suffix look-alike"], region="us-east-1", resolve=resolver)
    assert not called


@pytest.mark.parametrize("address", ["52.217.1.2", "3.5.0.1", "2600:1f18::1", "::ffff:52.217.1.2"])
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("region", ["us_east_1", "us-east-1x", "", "zz"])
def test_a_region_forged_in_the_stack_id_is_a_rejection_not_a_crash(region: str) -> None:
    # the region comes from the request's StackId: anyone can write it
    with pytest.raises(ResponseUrlRejected, match="region"):
        check_response_url(GOOD, region=region)


def test_allowed_hosts_are_per_region() -> None:
    assert allowed_hosts("us-east-1").isdisjoint(allowed_hosts("us-east-2"))
    assert allowed_hosts("eu-west-1") == {
        "cloudformation-custom-resource-response-euwest1.s3.amazonaws.com",
        "cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com",
        "cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com",
    }


# --- redact ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (GOOD, f"https://{HOST}"),
        (f"https://user:pw@{HOST}{PATH}?{SIGV4}", f"https://{HOST}"),
        (f"http://169.254.169.254/latest?{SIGV2}", "http://169.254.169.254"),
        ("https://[::1", "<unparseable url>"),
        (None, "<unparseable url>"),
    ],
)
def test_redact_keeps_only_scheme_and_host(url: str, expected: str) -> None:
    assert redact(url) == expected


# --- properties -----------------------------------------------------------------------------------

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "sa-east-1", "cn-north-1"]
_label = st.text(alphabet=string.ascii_lowercase + string.digits + "-", min_size=1, max_size=20)
_any_host = st.one_of(
    st.lists(_label, min_size=1, max_size=5).map(".".join),
    # near misses of a real host: a few characters changed, added or removed
    st.builds(
        lambda host, i, s: host[:i] + s + host[i + 1 :],
        st.sampled_from(sorted(allowed_hosts("us-east-1") | allowed_hosts("eu-west-1"))),
        st.integers(min_value=0, max_value=80),
        st.text(alphabet=string.ascii_letters + string.digits + ".-_@:[]%", max_size=3),
    ),
    st.text(alphabet=string.printable, min_size=1, max_size=60),
)


@settings(max_examples=300, deadline=None)
@given(host=_any_host, region=st.sampled_from(REGIONS))
def test_property_hosts_outside_the_allowlist_are_refused(host: str, region: str) -> None:
    url = f"https://{host}{PATH}?{SIGV4}"
    if host.lower() in allowed_hosts(region):
        assert check_response_url(url, region=region) == url
    else:
        with pytest.raises(ResponseUrlRejected) as excinfo:
            check_response_url(url, region=region, resolve=_public)
        assert SIGNATURE not in str(excinfo.value)


@settings(max_examples=100, deadline=None)
@given(
    region=st.sampled_from(REGIONS),
    form=st.integers(min_value=0, max_value=2),
    upper=st.booleans(),
    query=st.sampled_from([SIGV4, SIGV4_WITH_TOKEN, SIGV2]),
)
def test_property_real_hosts_of_the_region_are_accepted(
    region: str, form: int, upper: bool, query: str
) -> None:
    host = sorted(allowed_hosts(region))[form]
    host = host.upper() if upper else host
    url = f"https://{host}{PATH}?{query}"
    assert check_response_url(url, region=region, resolve=_public) == url
    other = "us-west-2" if region != "us-west-2" else "eu-west-1"
    with pytest.raises(ResponseUrlRejected):
        check_response_url(url, region=other)
