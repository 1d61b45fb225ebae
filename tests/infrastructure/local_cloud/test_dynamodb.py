"""DynamoDB serves one call at a time (infra/local/patches/dynamodb.py)."""

from __future__ import annotations

import threading

import boto3


def test_dynamodb_serves_concurrent_transactions_and_writes_without_corrupting_a_table(aws: None) -> None:
    # Functions run concurrently in the local cloud; moto's TransactWriteItems deep-copies the table
    # while other threads write it unless calls are serialized.

    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(
        TableName="busy",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    errors: list[BaseException] = []

    def hammer(worker: int) -> None:
        try:
            for i in range(150):
                if worker % 2:
                    ddb.put_item(TableName="busy", Item={"pk": {"S": f"w{worker}-{i}"}})
                else:
                    ddb.transact_write_items(
                        TransactItems=[
                            {"Put": {"TableName": "busy", "Item": {"pk": {"S": f"t{worker}-{i}"}}}}
                        ]
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert ddb.scan(TableName="busy", Select="COUNT")["Count"] == 600
