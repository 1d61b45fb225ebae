"""StackSpec: defaults, every rejected field named, secret values write-only, JSON round trip."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from functions.stacks.models import spec as spec_module
from functions.stacks.models.spec import (
    DATABASE_ENV_NAMES,
    MEMORY_FOR_CPU,
    BastionSpec,
    ContainerSpec,
    DatabaseSpec,
    ExistingVpc,
    NewVpc,
    SourceSpec,
    StackSpec,
    spec_without_secrets,
)

SECRET = "s3cr3t-Value-that-must-never-leak"
ACCOUNT = "123456789012"
ECR_IMAGE = f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/stackpilot-shop:1.2.3"
CERT_ID = "0a1b2c3d-0000-4000-8000-00000000abcd"
SOURCE = {"provider": "github", "repository": "acme/shop", "branch": "main"}


class Replace(dict[str, Any]):
    """A patch value that replaces the whole sub-object instead of merging into it."""


def minimal() -> dict[str, Any]:
    return {
        "connection_id": "conn_0123456789abcdefghijklmnop",
        "region": "eu-west-1",
        "name": "shop",
        "stage": "dev",
        "container": {"image": "ghcr.io/acme/shop:1.2.3"},
    }


def merged(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in patch.items():
        mergeable = isinstance(value, dict) and not isinstance(value, Replace) and "mode" not in value
        if mergeable and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = dict(value) if isinstance(value, Replace) else value
    return out


def with_(**patch: Any) -> dict[str, Any]:
    return merged(minimal(), patch)


def error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


# --------------------------------------------------------------------------------------------------
# Defaults
# --------------------------------------------------------------------------------------------------


def test_a_minimal_spec_gets_the_documented_defaults() -> None:
    # GIVEN only the required fields  WHEN validated
    spec = StackSpec.model_validate(minimal())
    # THEN every default is the one the product promises
    assert spec.network == NewVpc(mode="new", cidr="10.0.0.0/16")
    assert spec.nat_instance is True
    assert spec.front_door == "alb"
    assert spec.certificate_arn is None
    assert spec.database is None and spec.bastion is None
    c = spec.container
    assert (c.port, c.cpu, c.memory) == (8080, 256, 512)
    assert (c.min_count, c.desired_count, c.max_count) == (1, 2, 4)
    assert c.health_check_path == "/" and c.env == {} and c.secret_env == {}
    db = DatabaseSpec()
    assert (db.engine, db.instance_class, db.allocated_storage_gb) == ("postgres", "db.t3.micro", 20)
    assert (db.backup_retention_days, db.multi_az) == (7, False)
    assert BastionSpec().instance_type == "t3.micro"
    assert spec.stack_name == "stackpilot-shop-dev"


def _documented_defaults() -> dict[str, str]:
    doc = spec_module.__doc__ or ""
    rows = re.findall(r"^``([a-z_.]+)``\s+``(.+?)``", doc, flags=re.MULTILINE)
    return dict(rows)


def _declared_defaults() -> dict[str, str]:
    declared: dict[str, str] = {}
    for prefix, model in (
        ("", StackSpec),
        ("container.", ContainerSpec),
        ("database.", DatabaseSpec),
        ("bastion.", BastionSpec),
        ("source.", SourceSpec),
    ):
        for name, field in model.model_fields.items():
            if field.is_required():
                continue
            value = field.get_default(call_default_factory=True)
            if hasattr(value, "model_dump"):
                value = value.model_dump(mode="json")
            declared[prefix + name] = json.dumps(value, separators=(", ", ": "))
    return declared


def test_the_docstring_table_is_the_field_defaults() -> None:
    # The defaults live in the Field declarations; the module docstring's table must not drift.
    assert _documented_defaults() == _declared_defaults()


def test_the_default_postgres_version_is_still_offered_for_new_instances() -> None:
    # cfn-lint ships the RDS engine versions AWS refuses for new instances (16.4 became one).
    from cfnlint.data.schemas.extensions import aws_rds_dbinstance
    from cfnlint.helpers import load_resource

    deprecated = load_resource(aws_rds_dbinstance, "engine_version_deprecated.json")
    postgres = next(
        rule["if"]["properties"]["EngineVersion"]["enum"]
        for rule in deprecated["allOf"]
        if rule["if"]["properties"]["Engine"].get("const") == "postgres"
    )
    assert DatabaseSpec().engine_version not in postgres


# --------------------------------------------------------------------------------------------------
# Every bad field is refused, naming the field
# --------------------------------------------------------------------------------------------------

EXISTING = {
    "mode": "existing",
    "vpc_id": "vpc-0123abcd",
    "public_subnet_ids": ["subnet-0a000001", "subnet-0a000002"],
    "private_subnet_ids": ["subnet-0b000001", "subnet-0b000002"],
}

BAD: list[tuple[str, dict[str, Any], str]] = [
    ("unknown top-level field", {"colour": "blue"}, "colour"),
    ("connection id shape", {"connection_id": "conn_SHORT"}, "connection_id"),
    ("region shape", {"region": "Europe"}, "region"),
    ("name with capitals", {"name": "Shop"}, "name"),
    ("name ending in a dash", {"name": "shop-"}, "name"),
    ("name too long", {"name": "a" * 33}, "name"),
    ("stage with a dash", {"stage": "pre-prod"}, "stage"),
    ("stage too long", {"stage": "s" * 17}, "stage"),
    ("string where a bool goes (strict)", {"nat_instance": "true"}, "nat_instance"),
    ("unknown front door", {"front_door": "cloudfront"}, "front_door"),
    ("certificate shape", {"certificate_arn": "arn:aws:acm:eu-west-1:1:certificate/x"}, "certificate_arn"),
    (
        "certificate in another region",
        {"certificate_arn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{CERT_ID}"},
        "certificate_arn",
    ),
    (
        "certificate with api_gateway",
        {
            "front_door": "api_gateway",
            "certificate_arn": f"arn:aws:acm:eu-west-1:{ACCOUNT}:certificate/{CERT_ID}",
        },
        "certificate_arn",
    ),
    ("unknown network mode", {"network": {"mode": "peered"}}, "network"),
    ("public CIDR", {"network": {"mode": "new", "cidr": "8.8.0.0/16"}}, "network.new.cidr"),
    ("CIDR too large", {"network": {"mode": "new", "cidr": "10.0.0.0/8"}}, "network.new.cidr"),
    ("CIDR too small", {"network": {"mode": "new", "cidr": "10.0.0.0/25"}}, "network.new.cidr"),
    ("CIDR with host bits", {"network": {"mode": "new", "cidr": "10.0.0.1/16"}}, "network.new.cidr"),
    ("CIDR on Docker's bridge", {"network": {"mode": "new", "cidr": "172.17.0.0/16"}}, "network.new.cidr"),
    ("vpc id shape", {"network": {**EXISTING, "vpc_id": "vpc-XYZ"}}, "network.existing.vpc_id"),
    (
        "subnet id shape",
        {"network": {**EXISTING, "public_subnet_ids": ["sub-1"]}},
        "network.existing.public_subnet_ids.0",
    ),
    (
        "subnet listed twice",
        {"network": {**EXISTING, "private_subnet_ids": ["subnet-0b000001", "subnet-0b000001"]}},
        "network.existing.private_subnet_ids",
    ),
    (
        "subnet in two lists",
        {"network": {**EXISTING, "isolated_subnet_ids": ["subnet-0a000001"]}},
        "network.existing.isolated_subnet_ids",
    ),
    ("missing image", {"container": Replace(port=80)}, "container.image"),
    ("image with spaces", {"container": {"image": "my image"}}, "container.image"),
    ("image with capitals in its path", {"container": {"image": "acme/Shop:1"}}, "container.image"),
    (
        "ECR image outside stackpilot-* repositories",
        {"container": {"image": f"{ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com/shop:1"}},
        "container",
    ),
    (
        "ECR image in another region",
        {"container": {"image": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/stackpilot-shop:1"}},
        "container",
    ),
    ("port 0", {"container": {"port": 0}}, "container.port"),
    ("port 65536", {"container": {"port": 65536}}, "container.port"),
    ("cpu not an ECS size", {"container": {"cpu": 300}}, "container.cpu"),
    ("memory that does not fit the cpu", {"container": {"memory": 4096}}, "container.memory"),
    ("memory between allowed values", {"container": {"cpu": 1024, "memory": 2500}}, "container.memory"),
    (
        "max below min",
        {"container": {"min_count": 3, "max_count": 2, "desired_count": 2}},
        "container.max_count",
    ),
    ("desired above max", {"container": {"desired_count": 5}}, "container.desired_count"),
    ("desired below min", {"container": {"min_count": 2, "desired_count": 1}}, "container.desired_count"),
    ("zero tasks", {"container": {"min_count": 0}}, "container.min_count"),
    (
        "health path without slash",
        {"container": {"health_check_path": "health"}},
        "container.health_check_path",
    ),
    ("env name lower case", {"container": {"env": {"mode": "x"}}}, "container.env.mode.[key]"),
    (
        "env name reserved by ECS",
        {"container": {"env": {"ECS_AGENT_URI": "x"}}},
        "container.env.ECS_AGENT_URI.[key]",
    ),
    ("env value too long", {"container": {"env": {"MODE": "x" * 4097}}}, "container.env.MODE"),
    ("too many env vars", {"container": {"env": {f"V{i}": "x" for i in range(51)}}}, "container.env"),
    (
        "name both plain and secret",
        {"container": {"env": {"TOKEN": "x"}, "secret_env": {"TOKEN": SECRET}}},
        "container.env",
    ),
    ("empty secret value", {"container": {"secret_env": {"TOKEN": ""}}}, "container.secret_env.TOKEN"),
    ("database env name taken", {"database": {}, "container": {"env": {"PGHOST": "db"}}}, "database"),
    ("unknown database engine", {"database": {"engine": "mysql"}}, "database.engine"),
    ("engine version shape", {"database": {"engine_version": "16.4.1"}}, "database.engine_version"),
    ("instance class shape", {"database": {"instance_class": "t3.micro"}}, "database.instance_class"),
    ("storage below 20", {"database": {"allocated_storage_gb": 10}}, "database.allocated_storage_gb"),
    ("storage above 1024", {"database": {"allocated_storage_gb": 2048}}, "database.allocated_storage_gb"),
    ("no backups", {"database": {"backup_retention_days": 0}}, "database.backup_retention_days"),
    ("backups beyond 35 days", {"database": {"backup_retention_days": 36}}, "database.backup_retention_days"),
    ("unknown database field", {"database": {"password": "x"}}, "database.password"),
    ("ARM bastion (x86 AMI)", {"bastion": {"instance_type": "t4g.micro"}}, "bastion.instance_type"),
    ("bastion type shape", {"bastion": {"instance_type": "micro"}}, "bastion.instance_type"),
    ("bastion key pair", {"bastion": {"key_name": "mine"}}, "bastion.key_name"),
    ("isolated app tier pulling from Docker Hub", {"nat_instance": False}, "nat_instance"),
    *(
        (f"source {why}", {"source": {**SOURCE, field: value}}, f"source.{field}")
        for why, field, value in (
            ("on another git host", "provider", "gitlab"),
            ("repository without an owner", "repository", "shop"),
            ("repository with a path", "repository", "acme/shop/web"),
            ("owner starting with a hyphen", "repository", "-acme/shop"),
            ("owner ending with a hyphen", "repository", "acme-/shop"),
            ("owner over 39 characters", "repository", "a" * 40 + "/shop"),
            ("repository named ..", "repository", "acme/.."),
            ("repository name over 100 characters", "repository", "acme/" + "s" * 101),
            ("repository name with a space", "repository", "acme/my shop"),
            ("full ref instead of a branch", "branch", "refs/heads/main"),
            ("branch with ..", "branch", "release..1"),
            ("branch with a space", "branch", "my branch"),
            ("branch with a control character", "branch", "main\x07"),
            ("branch with a colon", "branch", "fix:1"),
            ("branch with a tilde", "branch", "main~1"),
            ("branch with a caret", "branch", "main^"),
            ("branch with a glob", "branch", "feat*"),
            ("branch with a bracket", "branch", "feat[1]"),
            ("branch with a backslash", "branch", "feat\\x"),
            ("branch ending in /", "branch", "feature/"),
            ("branch ending in .lock", "branch", "main.lock"),
            ("branch part ending in .lock", "branch", "a.lock/b"),
            ("branch part starting with .", "branch", "feature/.hidden"),
            ("branch ending in .", "branch", "v1."),
            ("branch with //", "branch", "a//b"),
            ("branch with @{", "branch", "a@{1}"),
            ("branch starting with -", "branch", "-f"),
            ("empty branch", "branch", ""),
            ("branch named HEAD", "branch", "HEAD"),
            ("dockerfile outside the repository", "dockerfile", "../Dockerfile"),
            ("absolute dockerfile", "dockerfile", "/etc/Dockerfile"),
            ("dockerfile through ..", "dockerfile", "a/../../Dockerfile"),
            ("dockerfile naming a directory", "dockerfile", "docker/"),
            ("dockerfile with a space", "dockerfile", "my Dockerfile"),
            ("empty dockerfile", "dockerfile", ""),
            ("context outside the repository", "context", ".."),
            ("absolute context", "context", "/"),
            ("context with a . part", "context", "./web"),
            ("context with a shell character", "context", "web;rm"),
        )
    ),
    (
        "source without a branch",
        {"source": {"provider": "github", "repository": "acme/shop"}},
        "source.branch",
    ),
    ("unknown source field", {"source": {**SOURCE, "token": "x"}}, "source.token"),
]


@pytest.mark.parametrize(("patch", "field"), [(p, f) for _, p, f in BAD], ids=[why for why, _, _ in BAD])
def test_each_bad_field_is_refused_and_named(patch: dict[str, Any], field: str) -> None:
    # GIVEN a spec that is valid except for one field  WHEN validated
    with pytest.raises(ValidationError) as caught:
        StackSpec.model_validate(with_(**patch))
    # THEN the error names exactly that field
    assert error_fields(caught.value) == {field}


@pytest.mark.parametrize(
    "patch",
    [
        {"nat_instance": False, "container": {"image": ECR_IMAGE}},
        {"nat_instance": False, "network": EXISTING},  # an existing VPC keeps its own routes
        {"database": {}, "container": {"env": {"PGAPPNAME": "shop"}}},
        {"container": {"env": {"PGHOST": "db.example.com"}}},  # no database: an external one is fine
        {"container": {"cpu": 4096, "memory": 30720, "min_count": 4, "desired_count": 4, "max_count": 4}},
        {"network": {"mode": "new", "cidr": "192.168.16.0/24"}},
        {"bastion": {"instance_type": "g4dn.xlarge"}},
        {"container": {"image": "nginx@sha256:" + "a" * 64}},
        {"container": {"image": "localhost:5000/team/app_v2:latest"}},
        {"source": SOURCE},
        {"source": {**SOURCE, "repository": "a/b", "branch": "feature/JIRA-12_x.y", "context": "."}},
        {"source": {**SOURCE, "repository": "A-9" + "z" * 36 + "/." + "n" * 99, "branch": "v1.2@x"}},
        {"source": {**SOURCE, "branch": "b" * 255, "dockerfile": "docker/.Dockerfile", "context": "a/b_c"}},
        {"source": {**SOURCE, "branch": "héllo/wörld", "dockerfile": "Dockerfile.prod"}},
    ],
)
def test_valid_edge_cases_are_accepted(patch: dict[str, Any]) -> None:
    StackSpec.model_validate(with_(**patch))


def test_json_input_works_in_strict_mode() -> None:
    # Literal types (not enums) keep strict mode usable from JSON bodies.
    body = json.dumps(with_(front_door="api_gateway", database={"multi_az": True}, network=EXISTING))
    spec = StackSpec.model_validate_json(body)
    assert spec.front_door == "api_gateway" and isinstance(spec.network, ExistingVpc)


# --------------------------------------------------------------------------------------------------
# Secret values are write-only
# --------------------------------------------------------------------------------------------------


def test_secret_values_never_appear_in_repr_or_dumps() -> None:
    spec = StackSpec.model_validate(with_(container={"secret_env": {"API_TOKEN": SECRET}}))
    shown = [repr(spec), str(spec), spec.model_dump_json(), json.dumps(spec_without_secrets(spec))]
    shown += [repr(spec.container), str(spec.model_dump())]
    assert all(SECRET not in text for text in shown)
    # ...while the value is still there for whoever writes it into Secrets Manager
    assert spec.container.secret_env["API_TOKEN"].get_secret_value() == SECRET
    assert spec_without_secrets(spec)["container"]["secret_env"] == {"API_TOKEN": "**********"}


@pytest.mark.parametrize(
    "patch",
    [
        {"container": {"env": {"API_TOKEN": "plain"}, "secret_env": {"API_TOKEN": SECRET}}},
        {"container": {"secret_env": {"ECS_TOKEN": SECRET}}},
        {"container": {"secret_env": {"lower": SECRET}}},
        {"database": {}, "container": {"secret_env": {"PGPASSWORD": SECRET}}},
        {"container": {"secret_env": {"API_TOKEN": SECRET}, "memory": 3}},
        {"nat_instance": False, "container": {"secret_env": {"API_TOKEN": SECRET}}},
        {"container": {"secret_env": {"API_TOKEN": SECRET}}, "stage": "NOPE"},
    ],
)
def test_secret_values_never_appear_in_validation_errors(patch: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as caught:
        StackSpec.model_validate(with_(**patch))
    error = caught.value
    # str(error) is what logs get; errors()/json() with their input are what an API could echo:
    # the checks around secret_env are placed so that even the input they carry holds no value.
    for text in (str(error), repr(error), error.json(), str(error.errors())):
        assert SECRET not in text


def test_a_malformed_secret_value_stays_out_of_the_printable_error() -> None:
    # Its own error must hold it in errors() (pydantic's contract); APIs answer without input.
    long = SECRET * 3000
    with pytest.raises(ValidationError) as caught:
        StackSpec.model_validate(with_(container={"secret_env": {"API_TOKEN": long}}))
    error = caught.value
    assert error_fields(error) == {"container.secret_env.API_TOKEN"}
    for text in (str(error), error.json(include_input=False), str(error.errors(include_input=False))):
        assert SECRET not in text


def test_a_stored_spec_validates_back_with_masked_values() -> None:
    spec = StackSpec.model_validate(with_(container={"secret_env": {"API_TOKEN": SECRET}}))
    stored = spec_without_secrets(spec)
    again = StackSpec.model_validate(stored)
    assert set(again.container.secret_env) == {"API_TOKEN"}
    assert SECRET not in json.dumps(stored)
    assert spec_without_secrets(again) == stored


# --------------------------------------------------------------------------------------------------
# Property: any valid spec round-trips through JSON (secret values aside)
# --------------------------------------------------------------------------------------------------

_env_names = st.from_regex(r"[A-Z_][A-Z0-9_]{0,20}", fullmatch=True).filter(
    lambda n: not n.startswith(("ECS_", "AWS_CONTAINER_")) and n not in DATABASE_ENV_NAMES
)
_hex8 = st.from_regex(r"[0-9a-f]{8}", fullmatch=True)


@st.composite
def container_specs(draw: st.DrawFn, region: str, ecr_only: bool) -> dict[str, Any]:
    cpu = draw(st.sampled_from(sorted(MEMORY_FOR_CPU)))
    low = draw(st.integers(1, 100))
    high = draw(st.integers(low, 100))
    names = draw(st.lists(_env_names, unique=True, max_size=8))
    split = draw(st.integers(0, len(names)))
    registry = f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/stackpilot-"
    image = draw(
        st.sampled_from(
            [f"{registry}shop:1"] if ecr_only else [f"{registry}api:v2", "nginx:1.27", "ghcr.io/a/b"]
        )
    )
    return {
        "image": image,
        "port": draw(st.integers(1, 65535)),
        "cpu": cpu,
        "memory": draw(st.sampled_from(MEMORY_FOR_CPU[cpu])),
        "min_count": low,
        "max_count": high,
        "desired_count": draw(st.integers(low, high)),
        "health_check_path": draw(st.from_regex(r"/[a-z0-9/_-]{0,30}", fullmatch=True)),
        "env": {n: draw(st.text(max_size=40)) for n in names[:split]},
        "secret_env": {n: draw(st.text(min_size=1, max_size=40)) for n in names[split:]},
    }


@st.composite
def stack_specs(draw: st.DrawFn) -> dict[str, Any]:
    region = draw(st.sampled_from(["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1"]))
    existing = draw(st.booleans())
    nat = draw(st.booleans())
    front_door = draw(st.sampled_from(["alb", "api_gateway"]))
    ids = draw(st.lists(_hex8, min_size=6, max_size=6, unique=True))
    network: dict[str, Any] = (
        {
            "mode": "existing",
            "vpc_id": f"vpc-{draw(_hex8)}",
            "public_subnet_ids": [f"subnet-{i}" for i in ids[:2]],
            "private_subnet_ids": [f"subnet-{i}" for i in ids[2:4]],
            "isolated_subnet_ids": [f"subnet-{i}" for i in ids[4:]],
        }
        if existing
        else {
            "mode": "new",
            "cidr": f"10.{draw(st.integers(0, 255))}.0.0/{draw(st.sampled_from([16, 20, 24]))}",
        }
    )
    spec: dict[str, Any] = {
        "connection_id": "conn_" + draw(st.from_regex(r"[a-z0-9]{26}", fullmatch=True)),
        "region": region,
        "name": draw(st.from_regex(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", fullmatch=True)),
        "stage": draw(st.from_regex(r"[a-z][a-z0-9]{0,15}", fullmatch=True)),
        "container": draw(container_specs(region, ecr_only=not nat and not existing)),
        "network": network,
        "nat_instance": nat,
        "front_door": front_door,
    }
    if front_door == "alb" and draw(st.booleans()):
        partition = "aws-us-gov" if region.startswith("us-gov") else "aws"
        certificate = f"{'a' * 8}-{'b' * 4}-{'c' * 4}-{'d' * 4}-{'e' * 12}"
        spec["certificate_arn"] = f"arn:{partition}:acm:{region}:{ACCOUNT}:certificate/{certificate}"
    if draw(st.booleans()):
        spec["database"] = {
            "engine_version": draw(st.sampled_from(["16.15", "17.6"])),
            "instance_class": draw(st.sampled_from(["db.t3.micro", "db.m7g.large"])),
            "allocated_storage_gb": draw(st.integers(20, 1024)),
            "backup_retention_days": draw(st.integers(1, 35)),
            "multi_az": draw(st.booleans()),
        }
    if draw(st.booleans()):
        spec["bastion"] = {"instance_type": draw(st.sampled_from(["t3.micro", "m7i.large", "c5.xlarge"]))}
    if draw(st.booleans()):
        spec["source"] = {
            "provider": "github",
            "repository": draw(st.from_regex(r"[A-Za-z0-9]{1,39}/[A-Za-z0-9_-]{1,100}", fullmatch=True)),
            "branch": draw(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,9}(/[a-z0-9_-]{1,9}){0,2}", fullmatch=True)),
            "dockerfile": draw(st.sampled_from(["Dockerfile", "docker/app.Dockerfile"])),
            "context": draw(st.sampled_from([".", "services/web"])),
        }
    return spec


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stack_specs())
def test_any_valid_spec_round_trips_through_json(body: dict[str, Any]) -> None:
    # GIVEN any valid spec (arrived as JSON, as the API receives it)
    spec = StackSpec.model_validate_json(json.dumps(body))
    # WHEN it is written as JSON and read back
    again = StackSpec.model_validate_json(spec.model_dump_json())
    # THEN everything but the secret values is the same (those are masked, names kept)
    assert spec_without_secrets(again) == spec_without_secrets(spec)
    assert again.model_dump(exclude={"container": {"secret_env"}}) == spec.model_dump(
        exclude={"container": {"secret_env"}}
    )
    assert set(again.container.secret_env) == set(body["container"]["secret_env"])
    assert set(spec_without_secrets(spec)["container"]["secret_env"].values()) <= {"**********"}
