// The Recordings page's player: hls.js over the signed VOD playlist. A playlist or segment it
// cannot fetch (after hls.js's own retries) becomes a sentence under the video rather than a
// black player: segments in the cold tier come from the object store through the node's
// redirect, and a store without a CORS rule for GET answers the browser without
// Access-Control-Allow-Origin, which the browser reports only as a failed request.
import { useEffect, useRef, useState } from "react";
import { Alert, Box, Stack, Text } from "@mantine/core";
import Hls, { type ErrorData } from "hls.js";

/** The sentence for a fatal hls.js error. */
export function playbackError(data: Pick<ErrorData, "type" | "details" | "response">): string {
  if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
    const code = data.response?.code ?? 0;
    const what = data.details.startsWith("frag") ? "its video segments" : "its playlist";
    if (code === 0) {
      return (
        `This recording cannot be played: the browser could not fetch ${what} (${data.details}). ` +
        "Segments in the cold tier come from the object store, which must allow cross-origin " +
        "GETs (a CORS rule on the bucket, see the README's cold tier section)."
      );
    }
    return `This recording cannot be played: fetching ${what} failed with HTTP ${code} (${data.details}).`;
  }
  return `This recording cannot be played: the browser could not decode it (${data.details}).`;
}

export function RecordingPlayer({
  url,
  startedAt,
}: {
  url: string | null;
  startedAt: number | null;
}) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const el = video.current;
    setError(null);
    if (!el || !url) return;
    let h: Hls | undefined;
    if (Hls.isSupported()) {
      h = new Hls();
      h.on(Hls.Events.ERROR, (_e, data) => {
        if (data.fatal) setError(playbackError(data));
      });
      h.loadSource(url);
      h.attachMedia(el);
    } else el.src = url;
    void el.play().catch(() => undefined);
    return () => h?.destroy();
  }, [url]);
  return (
    <Stack gap={4}>
      <Box bg="black" style={{ aspectRatio: "16 / 9", borderRadius: 4, overflow: "hidden" }}>
        <video
          ref={video}
          controls
          muted
          playsInline
          style={{ width: "100%", height: "100%" }}
          data-testid="recording-video"
        />
      </Box>
      {error && (
        <Alert color="red" data-testid="player-error">
          {error}
        </Alert>
      )}
      <Text size="xs" c="dimmed" data-testid="player-position">
        {url
          ? `Playing from ${startedAt ? new Date(startedAt).toLocaleString() : "the start"}`
          : "Pick a segment or click the timeline to play."}
      </Text>
    </Stack>
  );
}
