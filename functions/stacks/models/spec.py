"""``StackSpec``: what a team asks for when it creates or updates a stack (DESIGN.md, workflow 2).

Every model is ``extra="forbid"`` and ``strict=True`` (enumerations are ``Literal`` types, which strict
mode accepts from JSON). The defaults live in the ``Field`` declarations below; this table mirrors them
(``tests/unit/test_stack_spec.py`` fails when the two drift):

=========================================  ===========================================================
field                                      default
=========================================  ===========================================================
``network``                                ``{"mode": "new", "cidr": "10.0.0.0/16"}``
``nat_instance``                           ``true``
``front_door``                             ``"alb"``
``certificate_arn``                        ``null`` (HTTP on port 80 only)
``container.port``                         ``8080``
``container.cpu``                          ``256`` (ECS CPU units)
``container.memory``                       ``512`` (MiB)
``container.desired_count``                ``2``
``container.min_count``                    ``1``
``container.max_count``                    ``4``
``container.health_check_path``            ``"/"``
``container.env``                          ``{}``
``container.secret_env``                   ``{}``
``database``                               ``null`` (no database)
``database.engine``                        ``"postgres"``
``database.engine_version``                ``"16.15"``
``database.instance_class``                ``"db.t3.micro"``
``database.allocated_storage_gb``          ``20``
``database.backup_retention_days``         ``7``
``database.multi_az``                      ``false``
``bastion``                                ``null`` (no bastion)
``bastion.instance_type``                  ``"t3.micro"``
``source``                                 ``null`` (no build: the stack runs ``container.image``)
``source.dockerfile``                      ``"Dockerfile"``
``source.context``                         ``"."``
=========================================  ===========================================================

Secret values are write-only. ``container.secret_env`` values are ``SecretStr``: masked in ``repr``,
``str`` and every dump; ``str(ValidationError)`` leaves the input out (``hide_input_in_errors``), and
the cross-field checks are placed so that their errors never carry a secret value either. Only a
malformed secret value's *own* error holds it in ``errors()`` (pydantic's contract): an API answers
with ``errors(include_input=False)``, as ``functions/shared/rest/resolver.py`` does.

stackpilot never keeps secret values: the API writes each one into the customer's Secrets Manager as
``<stack name>/<ENV_NAME>`` and stores :func:`masked` - the same spec with every secret
value masked. ``StackSpec.model_validate(stored)`` gives the spec back (values masked); the template
reads only the names of ``secret_env``, so a stored spec renders exactly like the original.
"""

from __future__ import annotations

import ipaddress
import re
from itertools import pairwise
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    Field,
    SecretStr,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from functions.shared.logic.customer_names import STACK_NAME_PREFIX
from functions.shared.models.ids import ConnectionId
from functions.stacks.models.source import SourceSpec
from functions.stacks.models.strict import Strict as _Strict
from functions.stacks.models.strict import fail as _fail
from functions.stacks.models.strict import fail_ctx as _fail_ctx

#: Environment variables stackpilot sets itself when a database is attached (libpq's standard names,
#: so every PostgreSQL client finds the database without configuration).
DATABASE_ENV_NAMES: Final = ("PGDATABASE", "PGHOST", "PGPASSWORD", "PGPORT", "PGUSER")
#: Set by ECS inside every task; overriding them breaks credentials or the metadata endpoint.
_PLATFORM_ENV_PREFIXES: Final = ("AWS_CONTAINER_", "ECS_")

MAX_ENV_VARS: Final = 50
MAX_ENV_VALUE_CHARS: Final = 4096
MAX_SECRET_VALUE_CHARS: Final = 65_536  # Secrets Manager's SecretString limit

#: Task memory (MiB) allowed per CPU size: Fargate's table, so a spec stays portable and predictable.
MEMORY_FOR_CPU: Final[dict[int, tuple[int, ...]]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
}

_RFC1918: Final = tuple(ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_DOCKER_BRIDGE: Final = ipaddress.IPv4Network("172.17.0.0/16")

# A Docker image reference: [registry[:port]/]path[:tag][@sha256:digest], lower-case path components.
_IMAGE_RE: Final = (
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*"
    r"(?::[0-9]{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
ECR_IMAGE_RE: Final = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repository>[^:@]+)"
)
# Graviton families (t4g, m7g, c6gn, x2gd, ...) and a1: the bastion runs an x86_64 AMI.
_ARM_INSTANCE_RE: Final = re.compile(r"^(?:[a-z]+\d+g[a-z-]*|a1)\.")


# --------------------------------------------------------------------------------------------------
# Constrained scalars (declared once)
# --------------------------------------------------------------------------------------------------

AwsRegion = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2}$")]
StackName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")]
Stage = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,15}$")]
VpcId = Annotated[str, StringConstraints(pattern=r"^vpc-(?:[0-9a-f]{8}|[0-9a-f]{17})$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-(?:[0-9a-f]{8}|[0-9a-f]{17})$")]


def _not_platform_env(name: str) -> str:
    if name.startswith(_PLATFORM_ENV_PREFIXES):
        raise _fail_ctx(
            "reserved_env",
            "{name}: names starting with {prefixes} are set by ECS",
            {"name": name, "prefixes": " or ".join(_PLATFORM_ENV_PREFIXES)},
        )
    return name


# A validated key: its errors carry the name only, never the (secret) value beside it.
EnvName = Annotated[
    str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]{0,127}$"), AfterValidator(_not_platform_env)
]
EnvValue = Annotated[str, StringConstraints(max_length=MAX_ENV_VALUE_CHARS)]
ImageRef = Annotated[str, StringConstraints(max_length=255, pattern=_IMAGE_RE)]
CertificateArn = Annotated[
    str,
    StringConstraints(
        pattern=r"^arn:aws(?:-cn|-us-gov)?:acm:[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2}:\d{12}:certificate/[0-9a-f-]{36}$"
    ),
]
HealthCheckPath = Annotated[
    str, StringConstraints(max_length=1024, pattern=r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
]
DbInstanceClass = Annotated[str, StringConstraints(pattern=r"^db\.[a-z0-9]+\.[a-z0-9]+$")]
PostgresVersion = Annotated[str, StringConstraints(pattern=r"^[1-9][0-9](?:\.[0-9]{1,2})?$")]
Ec2InstanceType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*\.[a-z0-9]+$")]


def _secret_value(value: SecretStr) -> SecretStr:
    # The message never quotes the value.
    if not 1 <= len(value.get_secret_value()) <= MAX_SECRET_VALUE_CHARS:
        raise _fail("secret_value", f"a secret value has 1 to {MAX_SECRET_VALUE_CHARS} characters")
    return value


SecretValue = Annotated[SecretStr, AfterValidator(_secret_value)]


def _unique(values: list[str]) -> list[str]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise _fail_ctx(
            "duplicate", "listed more than once: {duplicates}", {"duplicates": ", ".join(duplicates)}
        )
    return values


# --------------------------------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------------------------------


class NewVpc(_Strict):
    """stackpilot creates the VPC: 3 AZs, public + app subnets (+ data subnets with a database)."""

    mode: Literal["new"] = Field(default="new", description="Create a VPC for the stack")
    cidr: str = Field(
        default="10.0.0.0/16",
        description="IPv4 range of the new VPC: a /16 to /24 inside 10/8, 172.16/12 or 192.168/16",
    )

    @field_validator("cidr")
    @classmethod
    def _private_range(cls, value: str) -> str:
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError:
            raise _fail("cidr", "must be an IPv4 network like 10.0.0.0/16 (no host bits set)") from None
        if not 16 <= network.prefixlen <= 24:
            raise _fail("cidr", "the VPC range must be a /16 to /24")
        if not any(network.subnet_of(block) for block in _RFC1918):
            raise _fail(
                "cidr", "must be a private range (inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)"
            )
        if network.overlaps(_DOCKER_BRIDGE):
            raise _fail(
                "cidr", "overlaps 172.17.0.0/16, Docker's bridge network on the ECS container instances"
            )
        return str(network)


class ExistingVpc(_Strict):
    """The customer's own VPC; ``functions.stacks.logic.network`` checks the subnets against it."""

    mode: Literal["existing"] = Field(description="Use an existing VPC")
    vpc_id: VpcId = Field(description="The VPC the stack goes into")
    public_subnet_ids: Annotated[list[SubnetId], Field(max_length=16), AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Default route to an internet gateway; the ALB goes here (>= 2 AZs with front_door alb)",
    )
    private_subnet_ids: Annotated[list[SubnetId], Field(max_length=16), AfterValidator(_unique)] = Field(
        default_factory=list,
        description="Default route through a NAT; the ECS instances, tasks and bastion go here (>= 2 AZs)",
    )
    isolated_subnet_ids: Annotated[list[SubnetId], Field(max_length=16), AfterValidator(_unique)] = Field(
        default_factory=list,
        description="No default route; the database goes here (>= 2 AZs when a database is requested)",
    )

    @field_validator("private_subnet_ids", "isolated_subnet_ids")
    @classmethod
    def _one_role_per_subnet(cls, value: list[str], info: ValidationInfo) -> list[str]:
        order = ("public_subnet_ids", "private_subnet_ids", "isolated_subnet_ids")
        for other in order[: order.index(str(info.field_name))]:
            shared = sorted(set(value) & set(info.data.get(other, [])))
            if shared:
                raise _fail_ctx(
                    "subnet_in_two_lists",
                    "{subnets} also listed in {other}: a subnet has one role",
                    {"subnets": ", ".join(shared), "other": other},
                )
        return value


Network = Annotated[NewVpc | ExistingVpc, Field(discriminator="mode")]


# --------------------------------------------------------------------------------------------------
# Container, database, bastion
# --------------------------------------------------------------------------------------------------


class ContainerSpec(_Strict):
    # Field order matters: a validator sees only the fields declared before it, and keeping
    # secret_env ahead of env lets the overlap check fail on env (no secret values in that error).
    image: ImageRef = Field(
        description="Image reference, e.g. 123456789012.dkr.ecr.<region>.amazonaws.com/x:1"
    )
    port: int = Field(default=8080, ge=1, le=65535, description="The port the container listens on")
    cpu: Literal[256, 512, 1024, 2048, 4096] = Field(default=256, description="ECS CPU units per task")
    memory: int = Field(
        default=512, description="MiB per task; allowed values depend on cpu (Fargate's table)"
    )
    min_count: int = Field(default=1, ge=1, le=100, description="Fewest tasks autoscaling keeps")
    max_count: int = Field(default=4, ge=1, le=100, description="Most tasks autoscaling starts")
    desired_count: int = Field(
        default=2, ge=1, le=100, description="Tasks at deploy time (min <= desired <= max)"
    )
    health_check_path: HealthCheckPath = Field(default="/", description="Load balancer health check path")
    secret_env: Annotated[dict[EnvName, SecretValue], Field(max_length=MAX_ENV_VARS)] = Field(
        default_factory=dict,
        description="Write-only: stored in the customer's Secrets Manager, injected at task start",
    )
    env: Annotated[dict[EnvName, EnvValue], Field(max_length=MAX_ENV_VARS)] = Field(
        default_factory=dict, description="Plain environment variables (never put secrets here)"
    )

    @field_validator("memory")
    @classmethod
    def _memory_fits_cpu(cls, value: int, info: ValidationInfo) -> int:
        cpu = info.data.get("cpu")
        if cpu is None:
            return value
        allowed = MEMORY_FOR_CPU[cpu]
        if value not in allowed:
            steps = {b - a for a, b in pairwise(allowed)}
            choices = (
                f"{allowed[0]} to {allowed[-1]} in steps of {steps.pop()}"
                if len(steps) == 1
                else ", ".join(map(str, allowed))
            )
            raise _fail_ctx(
                "memory_for_cpu",
                "{memory} MiB does not fit cpu {cpu}: use {choices}",
                {"memory": value, "cpu": cpu, "choices": choices},
            )
        return value

    @field_validator("max_count")
    @classmethod
    def _max_not_below_min(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("min_count")
        if low is not None and value < low:
            raise _fail_ctx(
                "count_order", "max_count ({max}) is below min_count ({min})", {"max": value, "min": low}
            )
        return value

    @field_validator("desired_count")
    @classmethod
    def _desired_within_bounds(cls, value: int, info: ValidationInfo) -> int:
        low, high = info.data.get("min_count"), info.data.get("max_count")
        if low is not None and high is not None and not low <= value <= high:
            raise _fail_ctx(
                "count_order",
                "desired_count ({desired}) must be within min_count ({min}) and max_count ({max})",
                {"desired": value, "min": low, "max": high},
            )
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, value: dict[str, str], info: ValidationInfo) -> dict[str, str]:
        both = sorted(set(value) & set(info.data.get("secret_env", {})))
        if both:
            raise _fail_ctx(
                "env_in_both",
                "{names} also in secret_env: a name is plain or secret",
                {"names": ", ".join(both)},
            )
        return value

    def env_names(self) -> set[str]:
        return set(self.env) | set(self.secret_env)


class DatabaseSpec(_Strict):
    engine: Literal["postgres"] = Field(default="postgres", description="Database engine")
    engine_version: PostgresVersion = Field(
        default="16.15", description="PostgreSQL major.minor; RDS must still offer it for new instances"
    )
    instance_class: DbInstanceClass = Field(default="db.t3.micro", description="RDS instance class")
    allocated_storage_gb: int = Field(default=20, ge=20, le=1024, description="gp3 storage in GiB")
    backup_retention_days: int = Field(default=7, ge=1, le=35, description="Days of automated backups")
    multi_az: bool = Field(default=False, description="A standby in a second AZ")


class BastionSpec(_Strict):
    """A Session Manager host: no SSH keys, no inbound rules."""

    instance_type: Ec2InstanceType = Field(default="t3.micro", description="x86_64 EC2 instance type")

    @field_validator("instance_type")
    @classmethod
    def _x86_only(cls, value: str) -> str:
        if _ARM_INSTANCE_RE.match(value):
            raise _fail(
                "instance_type", "must be an x86_64 type: the bastion runs the x86_64 Amazon Linux AMI"
            )
        return value


# --------------------------------------------------------------------------------------------------
# The stack
# --------------------------------------------------------------------------------------------------


class StackSpec(_Strict):
    # Field order matters (see ContainerSpec): the cross-field checks live on the later fields, never on
    # a model validator whose input would include the secret values.
    connection_id: ConnectionId = Field(description="The connected AWS account the stack goes into")
    region: AwsRegion = Field(description="AWS region of the stack")
    name: StackName = Field(description="Application name; the stack is named stackpilot-<name>-<stage>")
    stage: Stage = Field(description="Environment, e.g. dev or prod")
    container: ContainerSpec = Field(description="The application container")
    network: Network = Field(default_factory=NewVpc, description="A new VPC, or an existing one")
    nat_instance: bool = Field(
        default=True,
        description="New VPC: app subnets reach the internet through a NAT instance (else isolated, "
        "with VPC endpoints). Existing VPC: not used (the VPC's own routes apply)",
    )
    front_door: Literal["alb", "api_gateway"] = Field(
        default="alb", description="Internet-facing ALB, or an HTTP API with a VPC link"
    )
    certificate_arn: CertificateArn | None = Field(
        default=None, description="ACM certificate (ALB only): HTTPS on 443 and 80 redirects to it"
    )
    database: DatabaseSpec | None = Field(default=None, description="A PostgreSQL database (optional)")
    bastion: BastionSpec | None = Field(default=None, description="A Session Manager host (optional)")
    source: SourceSpec | None = Field(
        default=None,
        description="A git branch to build and release (optional); until its first release the stack "
        "runs container.image",
    )

    @field_validator("container")
    @classmethod
    def _image_reachable(cls, value: ContainerSpec, info: ValidationInfo) -> ContainerSpec:
        ecr = ECR_IMAGE_RE.match(value.image)
        region = info.data.get("region")
        if ecr is None or region is None:
            return value
        # The workload roles' permissions boundary allows pulling from this account's and region's
        # stackpilot-* repositories only.
        if ecr["region"] != region or not ecr["repository"].startswith(STACK_NAME_PREFIX):
            raise _fail_ctx(
                "image_repository",
                "container.image: an ECR image must come from a {prefix}* repository in {region}",
                {"prefix": STACK_NAME_PREFIX, "region": region},
            )
        return value

    @field_validator("nat_instance")
    @classmethod
    def _isolated_needs_ecr(cls, value: bool, info: ValidationInfo) -> bool:
        container, network = info.data.get("container"), info.data.get("network")
        if value or not isinstance(network, NewVpc) or container is None:
            return value
        if ECR_IMAGE_RE.match(container.image) is None:
            raise _fail(
                "isolated_image",
                "without a NAT instance the app subnets have no internet route: "
                "container.image must come from ECR in the stack's region",
            )
        return value

    @field_validator("certificate_arn")
    @classmethod
    def _certificate_fits(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if info.data.get("front_door") != "alb":
            raise _fail("certificate_front_door", "a certificate applies to front_door alb only")
        region = info.data.get("region")
        if region is not None and value.split(":")[3] != region:
            raise _fail_ctx("certificate_region", "the certificate must be in {region}", {"region": region})
        return value

    @field_validator("database")
    @classmethod
    def _database_env_free(cls, value: DatabaseSpec | None, info: ValidationInfo) -> DatabaseSpec | None:
        container = info.data.get("container")
        if value is None or container is None:
            return value
        taken = sorted(container.env_names() & set(DATABASE_ENV_NAMES))
        if taken:
            raise _fail_ctx(
                "database_env",
                "container.env/secret_env set {names}, which stackpilot sets for the database",
                {"names": ", ".join(taken)},
            )
        return value

    @property
    def stack_name(self) -> str:
        """The CloudFormation stack name (the customer's CloudFormation role only acts on this prefix)."""
        return f"{STACK_NAME_PREFIX}{self.name}-{self.stage}"


def secret_name(spec: StackSpec, env_name: str) -> str:
    """Where ``container.secret_env[env_name]`` lives in the customer's Secrets Manager."""
    return f"{spec.stack_name}/{env_name}"


#: What a secret value reads as wherever stackpilot keeps or shows a spec (pydantic's own SecretStr mask).
SECRET_MASK: Final = "**********"  # noqa: S105 (the mask, not a secret)


def masked(spec: StackSpec) -> StackSpec:
    """The spec as stackpilot keeps and shows it: each secret env name stays, its value is the mask
    (the values themselves live in the customer's Secrets Manager only). The one masking function."""
    if all(v.get_secret_value() == SECRET_MASK for v in spec.container.secret_env.values()):
        return spec
    secret_env = {name: SecretStr(SECRET_MASK) for name in spec.container.secret_env}
    return spec.model_copy(update={"container": spec.container.model_copy(update={"secret_env": secret_env})})


def spec_without_secrets(spec: StackSpec) -> dict[str, Any]:
    """The stored form: the masked spec as JSON."""
    return masked(spec).model_dump(mode="json")


# --------------------------------------------------------------------------------------------------
# A change to a stack (PATCH /stacks/{id} and its preview)
# --------------------------------------------------------------------------------------------------


class ContainerChange(_Strict):
    """Only what is given changes. ``env`` and ``secret_env`` merge by name: a value sets the name,
    ``null`` removes it (JSON Merge Patch, RFC 7386)."""

    image: ImageRef | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    cpu: Literal[256, 512, 1024, 2048, 4096] | None = None
    memory: int | None = None
    min_count: int | None = Field(default=None, ge=1, le=100)
    max_count: int | None = Field(default=None, ge=1, le=100)
    desired_count: int | None = Field(default=None, ge=1, le=100)
    health_check_path: HealthCheckPath | None = None
    secret_env: Annotated[dict[EnvName, SecretValue | None], Field(max_length=MAX_ENV_VARS)] | None = Field(
        default=None,
        description="Write-only: each value goes into the customer's Secrets Manager; null removes the name",
    )
    env: Annotated[dict[EnvName, EnvValue | None], Field(max_length=MAX_ENV_VARS)] | None = Field(
        default=None, description="Plain variables by name; null removes the name"
    )


class DatabaseChange(_Strict):
    """Changes the database, or adds one (its defaults fill what is not given). A database cannot be
    removed by an update: its deletion protection refuses it; delete the stack instead."""

    engine_version: PostgresVersion | None = None
    instance_class: DbInstanceClass | None = None
    allocated_storage_gb: int | None = Field(default=None, ge=20, le=1024)
    backup_retention_days: int | None = Field(default=None, ge=1, le=35)
    multi_az: bool | None = None


class StackChange(_Strict):
    """What a PATCH may change. The connection, region, name, stage and network are the stack's
    identity and place: they never change (create another stack instead). A field left out stays as
    it is; ``certificate_arn: null`` removes the certificate, ``bastion: null`` the bastion,
    ``source: null`` the tracked branch (its build resources go with it)."""

    container: ContainerChange | None = None
    nat_instance: bool | None = None
    front_door: Literal["alb", "api_gateway"] | None = None
    certificate_arn: CertificateArn | None = None
    database: DatabaseChange | None = None
    bastion: BastionSpec | None = None
    source: SourceSpec | None = Field(
        default=None, description="Sets or replaces the tracked branch as a whole; null stops tracking"
    )

    def merge_patch(self) -> dict[str, Any]:
        """This change as a JSON Merge Patch over a stored spec (secret values left as SecretStr)."""
        patch = self.model_dump(exclude_unset=True)
        if self.container is not None:
            patch["container"] = self.container.model_dump(exclude_unset=True)
        if self.database is not None:
            patch["database"] = self.database.model_dump(exclude_unset=True)
        return patch
