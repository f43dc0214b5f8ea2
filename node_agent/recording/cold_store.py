"""The cold tier's object store: an S3-compatible service spoken to with boto3 (SigV4,
path-style addressing). Blocking calls, run by callers in a thread; every failure becomes a
ColdStoreError whose message is a sentence an operator can act on."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from node_agent.desired import ColdStorage

# Short timeouts and one attempt: a store that is down blocks one pass, which ends and is
# retried at the next housekeeping pass, rather than stalling for minutes in retries.
_CONFIG = Config(
    signature_version="s3v4",
    s3={"addressing_style": "path"},
    retries={"max_attempts": 1, "mode": "standard"},
    connect_timeout=5,
    read_timeout=60,
)
# What S3 says when the keys are wrong, and when it is out of room.
_AUTH_CODES = frozenset(
    {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied", "InvalidToken"}
)
_FULL_CODES = frozenset({"QuotaExceeded", "InsufficientStorage", "EntityTooLarge"})


class ColdStoreError(Exception):
    """The store could not do what was asked; the message says why."""


def _md5(path: Path) -> bytes:
    digest = hashlib.md5()  # noqa: S324 - S3's Content-MD5 integrity check, not security
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.digest()


def describe(exc: Exception, where: str) -> str:
    """A sentence for `exc` raised while talking to the store at `where`."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if code in _AUTH_CODES:
            return (
                f"the cold tier's store {where} refuses the access and secret keys ({code}); "
                "check them in the storage settings"
            )
        if code == "NoSuchBucket":
            return f"the cold tier's bucket does not exist at {where}"
        if code in _FULL_CODES:
            return f"the cold tier's store {where} is full ({code})"
        message = str(exc.response.get("Error", {}).get("Message", "")) or str(exc)
        return f"the cold tier's store {where} refused the request: {code} {message}".strip()
    if isinstance(exc, BotoCoreError):
        return f"the cold tier's store {where} cannot be reached: {exc}"
    return f"the cold tier's store {where} failed: {exc}"


class ColdStore:
    """One configured object store (bucket and prefix) with this node's keys."""

    def __init__(self, config: ColdStorage) -> None:
        self.config = config
        self._client = boto3.client(
            "s3",
            endpoint_url=config.endpoint,
            aws_access_key_id=config.access_key,
            aws_secret_access_key=config.secret_key,
            region_name=config.region or "us-east-1",
            config=_CONFIG,
        )

    @property
    def where(self) -> str:
        """endpoint/bucket, for messages."""
        return f"{self.config.endpoint.rstrip('/')}/{self.config.bucket}"

    def key_for(self, relative: str) -> str:
        """The object key of a segment whose relative path on the node is `relative`."""
        prefix = self.config.prefix
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        return prefix + relative

    def upload(self, path: Path, key: str, size: int, sha256: str) -> None:
        """PUT the file with its MD5 (the store refuses a body that does not match), then read
        the object's size, ETag and recorded SHA-256 back: ColdStoreError unless all match."""
        md5 = _md5(path)
        try:
            with path.open("rb") as body:
                self._client.put_object(
                    Bucket=self.config.bucket,
                    Key=key,
                    Body=body,
                    ContentLength=size,
                    ContentMD5=base64.b64encode(md5).decode(),
                    ContentType="video/mp2t",
                    Metadata={"sha256": sha256},
                )
            head = self._client.head_object(Bucket=self.config.bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise ColdStoreError(describe(exc, self.where)) from exc
        etag = str(head.get("ETag", "")).strip('"')
        stored_sha = {k.lower(): v for k, v in head.get("Metadata", {}).items()}.get("sha256")
        if int(head.get("ContentLength", -1)) != size or stored_sha != sha256:
            raise ColdStoreError(
                f"the cold tier's copy of {key} does not match the file "
                f"({head.get('ContentLength')} bytes stored, {size} sent)"
            )
        if "-" not in etag and etag != md5.hex():  # a multipart ETag is not an MD5
            raise ColdStoreError(f"the cold tier's copy of {key} has another checksum ({etag})")

    def delete(self, bucket: str, key: str) -> None:
        """Delete the object (one already gone is not an error)."""
        try:
            self._client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as exc:
            raise ColdStoreError(describe(exc, self.where)) from exc

    def download(self, bucket: str, key: str, target: Path) -> None:
        """Fetch the object into `target`."""
        try:
            self._client.download_file(bucket, key, str(target))
        except (ClientError, BotoCoreError) as exc:
            raise ColdStoreError(describe(exc, self.where)) from exc

    def presigned_get(self, bucket: str, key: str, ttl_s: int) -> str:
        """A URL that GETs the object for `ttl_s` seconds (signed locally, no request)."""
        return str(
            self._client.generate_presigned_url(
                "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl_s
            )
        )
