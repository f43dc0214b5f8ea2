"""Where an offline camera's alert snapshot comes from (snapshot.RecordedSegments): the camera's
newest recorded segment, as the download URL RecordingService's GetDownloadUrl would sign, for
the alerting's grant, at the node that holds it."""

from __future__ import annotations

from camfleet.playback import Grant
from sqlalchemy import select

from server.db.engine import Sessions
from server.db.models import RecordingRow
from server.recordings.media import RecordingMedia


class NewestSegments:
    """snapshot.RecordedSegments over the recordings index and RecordingMedia's signing."""

    def __init__(self, sessions: Sessions, media: RecordingMedia) -> None:
        self._sessions = sessions
        self._media = media

    async def newest_segment_url(self, camera_id: str, grant: Grant) -> str | None:
        """The signed URL of the camera's latest segment; None when it recorded nothing.
        RecordingMedia says (FailedPrecondition) when its node cannot serve it now."""
        async with self._sessions() as session:
            newest = await session.scalar(
                select(RecordingRow.id)
                .where(RecordingRow.camera_id == camera_id)
                .order_by(RecordingRow.start_time.desc(), RecordingRow.id.desc())
                .limit(1)
            )
        if newest is None:
            return None
        return (await self._media.download_url(newest, grant)).url
