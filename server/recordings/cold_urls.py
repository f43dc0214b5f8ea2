"""Presigned URLs of cold-tier objects signed by the control plane, for a segment in object
storage whose node cannot serve it (lost, offline, deleted): the object outlives its node.

While its node is up, a cold segment is still served through the node (server/recordings/
media.py signs a URL at the node, which checks it and redirects to a presigned URL of its own),
so revocation and the signed URLs' checks keep applying in one place; this is the fallback.
A download URL lives PRESIGNED_TTL_S; one in a VOD playlist the control plane writes
(server/recordings/vod.py) lives as long as the playlist's own URL, or it would expire while the
range plays. Signed locally (no request to the store) with the storage
settings in force (SigV4, path-style, as the nodes use).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from server.settings.model import Settings, StorageSettings

PRESIGNED_TTL_S = 60


@dataclass(frozen=True)
class PresignedUrl:
    """A GET of one object and when it stops working."""

    url: str
    expires_at: datetime


class ColdUrls:
    """Signs GETs of cold-tier objects with the storage settings in force."""

    def __init__(self, settings: Settings, ttl_s: int = PRESIGNED_TTL_S) -> None:
        self._settings = settings
        self._ttl_s = ttl_s
        self._client: tuple[tuple[str, str, str, str], object] | None = None

    async def presigned_get(
        self, bucket: str, key: str, ttl_s: int | None = None
    ) -> PresignedUrl | None:
        """A presigned GET of `bucket`/`key` living `ttl_s` (default: the short life); None
        when no cold tier is configured."""
        storage = (await self._settings.current()).storage
        if not storage.cold_enabled or not storage.cold_secret_key:
            return None
        client = self._client_for(storage)
        # SigV4 allows at most 7 days.
        ttl = min(ttl_s or self._ttl_s, 7 * 86400)
        url = client.generate_presigned_url(  # type: ignore[attr-defined]
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl
        )
        return PresignedUrl(str(url), datetime.now(UTC) + timedelta(seconds=ttl))

    def _client_for(self, storage: StorageSettings) -> object:
        wanted = (
            storage.cold_endpoint,
            storage.cold_access_key,
            storage.cold_secret_key,
            storage.cold_region,
        )
        if self._client is None or self._client[0] != wanted:
            # Imported on the first cold URL: boto3 costs ~0.4 s of CPU that a control plane
            # without a cold tier would pay at every start.
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "s3",
                endpoint_url=storage.cold_endpoint,
                aws_access_key_id=storage.cold_access_key,
                aws_secret_access_key=storage.cold_secret_key,
                region_name=storage.cold_region or "us-east-1",
                config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
            )
            self._client = (wanted, client)
        return self._client[1]
