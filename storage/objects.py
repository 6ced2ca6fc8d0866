"""S3-compatible object storage (AWS S3, MinIO, R2, moto) through boto3.

Two clients: one talks to the endpoint this process reaches (``s3_endpoint_url``); the other only
signs URLs for the endpoint clients reach (``s3_public_endpoint_url``), which differs when the
service runs behind a proxy or inside a container network. Both are built once per process:
boto3 clients are thread-safe, keep a connection pool, and are expensive to create.
"""

from __future__ import annotations

import math
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from storage.settings import Settings

PNG = "image/png"


def input_key(tenant_id: uuid.UUID, job_id: uuid.UUID) -> str:
    return f"inputs/{tenant_id}/{job_id}"


def result_key(tenant_id: uuid.UUID, job_id: uuid.UUID) -> str:
    return f"results/{tenant_id}/{job_id}.png"


class ObjectStore:
    def __init__(self, settings: Settings) -> None:
        self.bucket = settings.s3_bucket
        self._ttl = settings.result_url_ttl_seconds
        self._client = self._make_client(settings, settings.s3_endpoint_url)
        self._signer = self._make_client(
            settings, settings.s3_public_endpoint_url or settings.s3_endpoint_url
        )

    @staticmethod
    def _make_client(settings: Settings, endpoint_url: str | None):
        return boto3.session.Session().client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=settings.s3_region,
            aws_access_key_id=settings.s3_access_key_id,
            aws_secret_access_key=settings.s3_secret_access_key.get_secret_value(),
            config=Config(
                signature_version="s3v4",
                s3={"addressing_style": "path"},
                max_pool_connections=64,
                retries={"max_attempts": 3, "mode": "standard"},
                connect_timeout=5,
                read_timeout=30,
            ),
        )

    def ensure_bucket(self) -> None:
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except ClientError:
            self._client.create_bucket(Bucket=self.bucket)

    def ping(self) -> None:
        """Raises when the bucket cannot be reached."""
        self._client.head_bucket(Bucket=self.bucket)

    def put(self, key: str, data: bytes, content_type: str = "application/octet-stream") -> None:
        self._client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def delete_many(self, keys: list[str]) -> None:
        """Delete up to 1000 keys in one request; missing keys are not an error."""
        if keys:
            self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            )

    def apply_retention(self, hours: float) -> int:
        """Expire inputs and results through a bucket lifecycle rule; returns its days.

        S3 counts lifecycle expiry in whole days, so this is the backstop behind the sweeper,
        which deletes a finished job's objects after exactly ``retention_hours``.
        """
        days = max(1, math.ceil(hours / 24))
        self._client.put_bucket_lifecycle_configuration(
            Bucket=self.bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": f"cutout-expire-{prefix.rstrip('/')}",
                        "Filter": {"Prefix": prefix},
                        "Status": "Enabled",
                        "Expiration": {"Days": days},
                    }
                    for prefix in ("inputs/", "results/")
                ]
            },
        )
        return days

    def presigned_get(self, key: str) -> str:
        """A SigV4 URL for GET, valid for ``result_url_ttl_seconds`` (one hour by default)."""
        return self._signer.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": key},
            ExpiresIn=self._ttl,
        )
