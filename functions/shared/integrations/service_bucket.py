"""Our service bucket (versioned, private): rendered templates and other objects we keep, and the
short-lived links through which a customer's CloudFormation reads them."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

#: S3's ceiling for a presigned URL's lifetime (SigV4): 7 days.
MAX_LINK_SECONDS = 604_800


class ServiceBucket:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, key: str, body: str, content_type: str = "application/json") -> None:
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=body.encode(), ContentType=content_type)

    def get(self, key: str) -> str | None:
        """The object's text; None if there is no such object."""
        try:
            return str(self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read().decode())
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise

    def presigned_url(self, key: str, expires_in: int) -> str:
        """A GET link to the object that lapses after ``expires_in`` seconds (1 s to 7 days)."""
        return str(
            self._s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self._bucket, "Key": key},
                ExpiresIn=max(1, min(expires_in, MAX_LINK_SECONDS)),
            )
        )
