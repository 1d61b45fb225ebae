"""The service bucket that holds rendered role templates (versioned; objects never rewritten)."""

from __future__ import annotations

from typing import Any


class S3TemplateStore:
    def __init__(self, client: Any, bucket: str) -> None:
        self._s3 = client
        self._bucket = bucket

    def put(self, key: str, body: str) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=body.encode(),
            ContentType="application/json",
        )

    def presigned_url(self, key: str, expires_in: int) -> str:
        # CloudFormation fetches the template with this URL; it lapses with the connect window.
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=max(1, min(expires_in, 604800)),
            )
        )
