"""The `stackpilot` command, as a new user types it."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import jwt
import pytest

from infra.local import customer, runtime
from infra.local.cli import main
from infra.local.issuer import LocalIssuer


@pytest.mark.xdist_group("local-cloud")
def test_local_token_makes_the_member_and_prints_a_token_the_local_issuer_signed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the product running with its AWS endpoint on a server, as `make run` has it
    local = runtime.start(in_process=False, aws_port=0, api_port=0, state_dir=tmp_path)
    try:
        args = ["local", "token", "--org", "org_acme", "--role", "viewer", "--state-dir", str(tmp_path)]
        args += ["--aws-url", str(local.cloud.endpoint_url), "--api-url", local.api_url]
        # WHEN a developer asks for a viewer's token
        assert main(args) == 0
        token = capsys.readouterr().out.strip()
        # THEN it is signed by the local issuer and names the org, never a role
        issuer = LocalIssuer(tmp_path, base_url=local.api_url)
        claims = jwt.decode(token, issuer.public_key, algorithms=["RS256"], audience=issuer.audience)
        assert claims["org_id"] == "org_acme" and "role" not in claims and claims["iss"] == issuer.issuer_url
        # AND the API knows them as a viewer of that org
        request = urllib.request.Request(  # noqa: S310 - loopback
            local.api_url + "/orgs/current", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310
            assert json.loads(reply.read())["your_role"] == "viewer"
    finally:
        local.stop()


def test_local_token_says_when_the_local_cloud_is_not_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["local", "token", "--org", "org_acme", "--role", "viewer", "--state-dir", str(tmp_path)]
    assert main([*args, "--aws-url", f"http://127.0.0.1:{runtime.free_port()}"]) == 1
    assert "is `make run` running?" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--org", "acme", "--org 'acme' is not valid: String should match pattern '^org_"),
        ("--user", "", "--user '' is not valid: String should have at least 1 character"),
    ],
)
def test_local_token_says_what_is_wrong_with_an_id_before_calling_the_local_cloud(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    # GIVEN no local cloud at all (a validation error must not be blamed on it)
    args = ["local", "token", "--org", "org_acme", "--role", "viewer", "--state-dir", str(tmp_path)]
    args += ["--aws-url", f"http://127.0.0.1:{runtime.free_port()}", option, value]
    # WHEN the id is malformed, THEN the usage error names the option and what is wrong
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and "make run" not in err


def test_an_unknown_role_is_refused_by_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["local", "token", "--org", "org_acme", "--role", "root"])
    assert exit_.value.code == 2 and "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/", "not a CloudFormation quick-create URL"),
        (
            "https://us-east-1.console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks/quickcreate?stackName=x",
            "templateURL",
        ),
        (
            "https://console.aws.amazon.com/cloudformation/home#/stacks/quickcreate?templateURL=t&stackName=x",
            "region",
        ),
    ],
)
def test_customer_deploy_explains_a_bad_link(
    url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(customer.QuickCreateError, match=message):
        customer.parse_quick_create_url(url)
    assert main(["local", "customer-deploy", "--url", url, "--account", "111111111111"]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.xdist_group("local-cloud")
def test_the_demo_runs_the_journey_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["local", "demo"]) == 0
    out = capsys.readouterr().out
    assert "-> CONNECTED" in out and "AccountConnected" in out and "AccountDisconnected" in out
    assert "org_other GET" in out and "-> 404" in out


def test_commands_that_need_the_local_cloud_say_so_when_it_is_not_running(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from infra.local.runtime import free_port

    endpoint = f"http://127.0.0.1:{free_port()}"
    assert main(["local", "events", "--endpoint", endpoint]) == 1
    assert "is `make run` running?" in capsys.readouterr().err
