"""The database and its credentials.

RDS PostgreSQL in the data tier, gp3, storage encrypted (AWS-managed ``aws/rds`` key), not public, IAM
authentication, ``postgresql`` and ``upgrade`` log exports, backups for the spec's days, deletion
protection, snapshot on delete/replace, tags copied to snapshots, automatic minor upgrades.
Credentials: generated into ``stackpilot-<name>-<stage>/database`` and referenced with
``{{resolve:secretsmanager:...}}``; a ``SecretTargetAttachment`` adds host/port/dbname.
"""

from __future__ import annotations

import json
from typing import Final

from troposphere import AWSObject, GetAtt, Ref, Sub, rds, secretsmanager

from functions.shared.logic.iam import checkov_skips
from functions.stacks.logic.template.context import Context, Network

DB_PORT: Final = 5432
DB_NAME: Final = "app"
DB_USER: Final = "stackpilot"


def database(ctx: Context, net: Network, sgs: dict[str, AWSObject]) -> AWSObject:
    db = ctx.spec.database
    assert db is not None
    secret = ctx.add(
        secretsmanager.Secret(
            "DatabaseSecret",
            # The credentials go with the database; its final snapshot keeps the data, and the
            # master password can be reset on a restored instance.
            DeletionPolicy="Delete",
            UpdateReplacePolicy="Delete",
            Name=f"{ctx.name}/database",
            Description=f"{ctx.name}: PostgreSQL master credentials",
            GenerateSecretString=secretsmanager.GenerateSecretString(
                SecretStringTemplate=json.dumps({"username": DB_USER}),
                GenerateStringKey="password",
                PasswordLength=32,
                ExcludeCharacters="\"'@/\\ ",  # characters RDS refuses in a master password
            ),
            Metadata=checkov_skips(
                (
                    "CKV_AWS_149",
                    "Uses aws/secretsmanager: workload roles' permissions boundary grants no KMS "
                    "use, so a customer-managed key would lock the tasks out",
                ),
            ),
        )
    )
    subnet_group = ctx.add(
        rds.DBSubnetGroup(
            "DatabaseSubnetGroup",
            DBSubnetGroupDescription=f"{ctx.name}: isolated subnets",
            SubnetIds=net.data,
        )
    )
    resolve = "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:%s}}"
    skips = [
        (
            "CKV_AWS_118",
            "Enhanced monitoring needs the AWS-managed monitoring role, which the CloudFormation "
            "role's contract (inline policies only) rules out",
        )
    ]
    if not db.multi_az:
        skips.append(
            ("CKV_AWS_157", "multi_az is false in the spec: a single-AZ instance is the team's choice")
        )
    instance = ctx.add(
        rds.DBInstance(
            "Database",
            DeletionPolicy="Snapshot",
            UpdateReplacePolicy="Snapshot",
            Engine=db.engine,
            EngineVersion=db.engine_version,
            DBInstanceClass=db.instance_class,
            AllocatedStorage=str(db.allocated_storage_gb),
            StorageType="gp3",
            StorageEncrypted=True,
            DBName=DB_NAME,
            Port=str(DB_PORT),
            MasterUsername=Sub(resolve % "username"),
            MasterUserPassword=Sub(resolve % "password"),
            DBSubnetGroupName=Ref(subnet_group),
            VPCSecurityGroups=[GetAtt(sgs["db"], "GroupId")],
            PubliclyAccessible=False,
            MultiAZ=db.multi_az,
            BackupRetentionPeriod=db.backup_retention_days,
            DeletionProtection=ctx.inp.deletion_protection,
            EnableIAMDatabaseAuthentication=True,
            EnableCloudwatchLogsExports=["postgresql", "upgrade"],
            CopyTagsToSnapshot=True,
            AutoMinorVersionUpgrade=True,
            Tags=ctx.tags("db"),
            Metadata=checkov_skips(*skips),
        )
    )
    ctx.add(
        secretsmanager.SecretTargetAttachment(
            "DatabaseSecretAttachment",
            SecretId=Ref(secret),
            TargetId=Ref(instance),
            TargetType="AWS::RDS::DBInstance",
        )
    )
    return instance
