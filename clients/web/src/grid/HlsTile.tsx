// One live tile: the camera's signed HLS stream through hls.js. A tile downloads only while it
// is on screen and the tab is visible: off-screen or hidden, hls.js stops loading (and after a
// while is destroyed, freeing its buffer); back in view it resumes at the live edge.
import { useEffect, useRef, useState } from "react";
import { Badge, Box, Group, Text } from "@mantine/core";
import Hls from "hls.js";
import { CameraStatus, type Camera } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { describeError } from "../api/errors";
import { useApi } from "../auth/AuthContext";
import { cameraStatusColor, cameraStatusLabel, formatBitrate } from "../format";
import type { StreamStatus } from "@camfleet/client/gen/camfleet/v1/stream_pb.js";
import { useDocumentVisible, useInView } from "./visibility";

// A tile out of view for this long drops its player entirely; shorter absences only pause it.
const DESTROY_AFTER_MS = 30_000;
// A live picture that stands still this long (a stalled buffer, a player that never started)
// gets a fresh player and URL: operators watch walls of tiles and never press "retry".
const STALL_RESTART_MS = 10_000;

type TileState = "idle" | "loading" | "playing" | "paused" | "error";

export function HlsTile({ camera, stream }: { camera: Camera; stream?: StreamStatus }) {
  const api = useApi();
  const box = useRef<HTMLDivElement>(null);
  const video = useRef<HTMLVideoElement>(null);
  const inView = useInView(box);
  const visible = useDocumentVisible();
  const online = camera.status === CameraStatus.ONLINE;
  const [state, setState] = useState<TileState>("idle");
  const [message, setMessage] = useState("");
  // Bumped to start over with a freshly signed URL (the old one expired or was refused).
  const [generation, setGeneration] = useState(0);
  const hls = useRef<Hls | null>(null);
  const destroyTimer = useRef<number | undefined>(undefined);

  const drop = () => {
    window.clearTimeout(destroyTimer.current);
    hls.current?.destroy();
    hls.current = null;
  };

  useEffect(() => {
    const el = video.current;
    if (!el) return;
    let cancelled = false;
    const later = (ms: number, fn: () => void) =>
      window.setTimeout(() => {
        if (!cancelled) fn();
      }, ms);
    window.clearTimeout(destroyTimer.current);

    if (!online) {
      // The publish ended: a new one is a new stream, so nothing of this player is worth keeping.
      drop();
      setState("idle");
      return;
    }
    if (!inView || !visible) {
      setState("paused");
      if (hls.current) {
        hls.current.stopLoad();
        el.pause();
        destroyTimer.current = window.setTimeout(drop, DESTROY_AFTER_MS);
      }
      return;
    }
    if (hls.current) {
      hls.current.startLoad(-1);
      void el.play().catch(() => undefined);
      setState("playing");
      return;
    }
    setState("loading");
    api.cameras.getStreamUrls({ id: camera.id }).then(
      (urls) => {
        if (cancelled) return;
        if (!Hls.isSupported()) {
          el.src = urls.hlsPlaybackUrl; // Safari plays HLS natively.
        } else {
          const h = new Hls({
            lowLatencyMode: true,
            liveSyncDurationCount: 2,
            manifestLoadingMaxRetry: 6,
            manifestLoadingRetryDelay: 1000,
          });
          hls.current = h;
          h.on(Hls.Events.ERROR, (_e, data) => {
            if (!data.fatal) return;
            if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
              h.recoverMediaError();
            } else if (data.response?.code === 403) {
              // Signed URLs expire (--playback-url-ttl): sign a new one and start over.
              setState("error");
              setMessage("The playback link expired; renewing it.");
              drop();
              later(1000, () => setGeneration((g) => g + 1));
            } else {
              setState("error");
              setMessage("The stream could not be loaded; retrying.");
              later(3000, () => h.startLoad(-1));
            }
          });
          h.on(Hls.Events.FRAG_BUFFERED, () => setState("playing"));
          h.loadSource(urls.hlsPlaybackUrl);
          h.attachMedia(el);
        }
        void el.play().catch(() => undefined);
      },
      (err) => {
        if (cancelled) return;
        setState("error");
        setMessage(describeError(err).sentence);
        later(5000, () => setGeneration((g) => g + 1));
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, camera.id, online, inView, visible, generation]);

  // The stall watchdog: only while the tile should be playing.
  useEffect(() => {
    const el = video.current;
    if (!el || !online || !inView || !visible) return;
    let last = el.currentTime;
    let since = Date.now();
    const timer = window.setInterval(() => {
      if (el.currentTime !== last) {
        last = el.currentTime;
        since = Date.now();
      } else if (Date.now() - since > STALL_RESTART_MS) {
        since = Date.now();
        drop();
        setState("loading");
        setGeneration((g) => g + 1);
      }
    }, 1000);
    return () => window.clearInterval(timer);
  }, [online, inView, visible, generation]);

  // Unmount: free everything.
  useEffect(() => drop, []);

  return (
    <Box
      ref={box}
      pos="relative"
      bg="black"
      style={{ aspectRatio: "16 / 9", overflow: "hidden", borderRadius: 4 }}
      data-testid="grid-tile"
      data-camera-id={camera.id}
      data-name={camera.name}
      data-status={cameraStatusLabel(camera.status)}
      data-state={state}
    >
      <video
        ref={video}
        muted
        playsInline
        autoPlay
        style={{
          width: "100%",
          height: "100%",
          objectFit: "contain",
          display: online ? "block" : "none",
        }}
        data-testid="grid-video"
      />
      {!online && (
        <Text c="gray.5" ta="center" pos="absolute" top="45%" w="100%" data-testid="tile-offline">
          {camera.status === CameraStatus.CONNECTING
            ? "Connecting…"
            : camera.status === CameraStatus.ERROR
              ? camera.statusReason || "Stream error"
              : "Camera offline"}
        </Text>
      )}
      {online && state === "error" && (
        <Text c="red.3" size="xs" ta="center" pos="absolute" top="45%" w="100%">
          {message}
        </Text>
      )}
      <Group
        pos="absolute"
        bottom={0}
        left={0}
        right={0}
        px={6}
        py={3}
        gap={6}
        justify="space-between"
        wrap="nowrap"
        style={{ background: "linear-gradient(transparent, rgba(0,0,0,.75))" }}
      >
        <Group gap={6} wrap="nowrap">
          <Badge size="xs" color={cameraStatusColor(camera.status)}>
            {cameraStatusLabel(camera.status)}
          </Badge>
          <Text size="xs" c="white" truncate>
            {camera.name}
          </Text>
        </Group>
        {online && stream && stream.width > 0 && (
          <Text size="xs" c="gray.4" data-testid="tile-metrics" style={{ whiteSpace: "nowrap" }}>
            {stream.width}×{stream.height} · {stream.fps.toFixed(0)} fps ·{" "}
            {formatBitrate(stream.bitrateBps)}
          </Text>
        )}
      </Group>
    </Box>
  );
}
