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


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://example.com/", "not a CloudFormation update-stack URL"),
        (
            "https://console.aws.amazon.com/cloudformation/home?region=us-east-1#/stacks/update/template?templateURL=t",
            "no stackId",
        ),
        (
            "https://console.aws.amazon.com/cloudformation/home?region=us-east-1"
            "#/stacks/update/template?stackId=not-an-arn&templateURL=t",
            "not a stack ARN",
        ),
        (
            "https://console.aws.amazon.com/cloudformation/home?region=eu-west-1#/stacks/update/template?"
            "stackId=arn%3Aaws%3Acloudformation%3Aus-east-1%3A111111111111%3Astack%2FS%2Fabc&templateURL=t",
            "region is not the stack's",
        ),
    ],
)
def test_customer_update_explains_a_bad_link(
    url: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["local", "customer-update", "--url", url]) == 2
    assert message in capsys.readouterr().err


def test_customer_update_reads_back_the_link_the_api_answers() -> None:
    from functions.accounts.logic.upgrade import update_stack_url

    stack_id = "arn:aws:cloudformation:us-east-1:111111111111:stack/StackpilotConnection-x/0f9d1c60-aaaa"
    template_url = (
        "http://127.0.0.1:4566/bucket/connections/o/c/role-v3-upgrade-ab.json?X-Amz-Signature=a%2Bb&x=1"
    )
    link = customer.parse_update_url(update_stack_url("us-east-1", stack_id, template_url))
    assert (link.region, link.stack_id, link.template_url, link.account) == (
        "us-east-1",
        stack_id,
        template_url,
        "111111111111",
    )


@pytest.mark.xdist_group("local-cloud")
def test_customer_update_asks_for_the_link_and_updates_the_stack(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the product running as `make run` has it, and a connection from before template v3
    local = runtime.start(in_process=False, aws_port=0, api_port=0, state_dir=tmp_path)
    try:
        from tests.workflows.client import Api
        from tests.workflows.onboarding import as_record_from_before_v3, deploy

        api = Api(local, org_id="org_cli", role="admin")
        created = api.request(
            "POST", "/accounts", {"aws_account_id": "131313131313", "region": "us-east-1"}
        ).body
        assert deploy(local, created["quick_create_url"], "131313131313").status == "CREATE_COMPLETE"
        assert api.wait_for_status(created["connection_id"], {"CONNECTED"})["status"] == "CONNECTED"
        as_record_from_before_v3(local, "org_cli", created["connection_id"])
        # WHEN the developer plays the customer with the connection id
        args = ["local", "customer-update", "--connection", created["connection_id"], "--org", "org_cli"]
        args += [
            "--state-dir",
            str(tmp_path),
            "--api-url",
            local.api_url,
            "--endpoint",
            str(local.cloud.endpoint_url),
        ]
        assert main(args) == 0, capsys.readouterr()
        # THEN the stack updated and the connection runs v3
        assert "stack UPDATE_COMPLETE" in capsys.readouterr().out
        after = api.wait_for_status(created["connection_id"], {"CONNECTED", "FAILED"})
        assert (after["status"], after["template_version"]) == ("CONNECTED", "3")
        # AND asking again is refused (already the latest): the command says what the API answered
        assert main(args) == 1
        assert "409" in capsys.readouterr().err
    finally:
        local.stop()
