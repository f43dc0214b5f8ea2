// One live tile: the camera's signed HLS stream through hls.js. A tile downloads only while it
// is on screen and the tab is visible: off-screen or hidden, hls.js stops loading (and after a
// while is destroyed, freeing its buffer); back in view it resumes at the live edge.
//
// Cameras with a live ladder (GetStreamUrls' hlsLadderUrl) are played from its master playlist:
// a grid tile keeps to the lowest rung (a 32-tile wall downloads 32 small streams, not 32 full
// ones); a camera alone (`rungs="all"`) lets hls.js pick the rung by bandwidth (ABR), and the
// viewer may pin one.
import { useEffect, useRef, useState } from "react";
import { Box, SegmentedControl, Text } from "@mantine/core";
import Hls from "hls.js";
import { CameraStatus, type Camera } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { describeError } from "../api/errors";
import { useApi } from "../auth/AuthContext";
import { cameraStatusLabel, formatBitrate } from "../format";
import type { StreamStatus } from "@camfleet/client/gen/camfleet/v1/stream_pb.js";
import { TileCaption } from "./TileCaption";
import { useDocumentVisible, useInView } from "./visibility";

// A tile out of view for this long drops its player entirely; shorter absences only pause it.
const DESTROY_AFTER_MS = 30_000;
// A live picture that stands still this long (a stalled buffer, a player that never started)
// gets a fresh player and URL: operators watch walls of tiles and never press "retry".
const STALL_RESTART_MS = 10_000;
// A player that has shown nothing yet waits longer: the node answers a cold ladder's first
// request only once the ladder plays (up to 25 s, node_agent/ladder/http.py). Restarting at 10 s
// made a wall of cold tiles ask again and again, each request starting a ladder the last one's
// abandonment had stopped (32 tiles: 216 playlist requests and 60-76 ladder starts in 100 s).
const FIRST_PICTURE_MS = 45_000;

type TileState = "idle" | "loading" | "playing" | "paused" | "error";

// Which rungs of a camera's ladder a tile may play: the lowest only (grid tiles) or all (ABR).
export type Rungs = "lowest" | "all";

export function HlsTile({
  camera,
  stream,
  rungs = "lowest",
}: {
  camera: Camera;
  stream?: StreamStatus;
  rungs?: Rungs;
}) {
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
  // The ladder's rung heights (lowest first, as hls.js orders them), the rung playing, and the
  // one the viewer pinned (-1: chosen by bandwidth).
  const [heights, setHeights] = useState<number[]>([]);
  const [playingHeight, setPlayingHeight] = useState(0);
  const [pinned, setPinned] = useState(-1);
  const hls = useRef<Hls | null>(null);
  const destroyTimer = useRef<number | undefined>(undefined);
  // Whether the tile should be playing now (online, on screen, tab visible). The player's
  // events read it: a fragment whose append was under way when the tile paused still reports
  // FRAG_BUFFERED after stopLoad, and must not make a paused tile claim it plays.
  const wanted = useRef(false);

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
    wanted.current = online && inView && visible;

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
        const source = urls.hlsLadderUrl || urls.hlsPlaybackUrl;
        if (!Hls.isSupported()) {
          el.src = source; // Safari plays HLS natively (and picks the ladder's rung itself).
        } else {
          const h = new Hls({
            lowLatencyMode: true,
            liveSyncDurationCount: 2,
            manifestLoadingMaxRetry: 6,
            manifestLoadingRetryDelay: 1000,
            // The node starts a ladder on its first request and answers once it plays.
            manifestLoadingTimeOut: 40_000,
            startLevel: rungs === "lowest" ? 0 : -1,
          });
          hls.current = h;
          h.on(Hls.Events.MANIFEST_PARSED, () => {
            setHeights(h.levels.map((l) => l.height));
            setPinned(-1);
            // Levels are sorted lowest first: a grid tile never climbs above the first.
            if (rungs === "lowest") h.autoLevelCapping = 0;
          });
          h.on(Hls.Events.LEVEL_SWITCHED, (_e, data) => {
            setPlayingHeight(h.levels[data.level]?.height ?? 0);
          });
          h.on(Hls.Events.ERROR, (_e, data) => {
            if (!data.fatal) return;
            if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
              h.recoverMediaError();
            } else if (!wanted.current) {
              // Out of sight the tile stays paused; coming back starts a fresh player.
              drop();
            } else if (data.response?.code === 403) {
              // Signed URLs expire (--playback-url-ttl): sign a new one and start over.
              setState("error");
              setMessage("The playback link expired; renewing it.");
              drop();
              later(1000, () => setGeneration((g) => g + 1));
            } else if (!h.levels.length) {
              // No playlist yet (a cold ladder not ready in time): startLoad would not ask for
              // it again, so a fresh player does.
              setState("error");
              setMessage("The stream could not be loaded; retrying.");
              drop();
              later(3000, () => setGeneration((g) => g + 1));
            } else {
              setState("error");
              setMessage("The stream could not be loaded; retrying.");
              later(3000, () => h.startLoad(-1));
            }
          });
          h.on(Hls.Events.FRAG_BUFFERED, () => {
            if (wanted.current) setState("playing");
          });
          h.loadSource(source);
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
  }, [api, camera.id, online, inView, visible, generation, rungs]);

  // The stall watchdog: only while the tile should be playing.
  useEffect(() => {
    const el = video.current;
    if (!el || !online || !inView || !visible) return;
    let last = el.currentTime;
    let since = Date.now();
    let moved = false;
    const timer = window.setInterval(() => {
      if (el.currentTime !== last) {
        last = el.currentTime;
        since = Date.now();
        moved = true;
      } else if (Date.now() - since > (moved ? STALL_RESTART_MS : FIRST_PICTURE_MS)) {
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
      data-rungs={rungs}
      data-rung-height={playingHeight || undefined}
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
      {online && rungs === "all" && heights.length > 1 && (
        <SegmentedControl
          size="xs"
          pos="absolute"
          top={6}
          right={6}
          data-testid="tile-rung-picker"
          value={String(pinned)}
          onChange={(value) => {
            const level = Number(value);
            setPinned(level);
            // -1 hands the choice back to hls.js's bandwidth estimate.
            if (hls.current) hls.current.currentLevel = level;
          }}
          data={[
            { value: "-1", label: "Auto" },
            ...heights.map((height, level) => ({ value: String(level), label: `${height}p` })),
          ]}
        />
      )}
      {online && state === "error" && (
        <Text c="red.3" size="xs" ta="center" pos="absolute" top="45%" w="100%">
          {message}
        </Text>
      )}
      <TileCaption camera={camera}>
        {online && stream && stream.width > 0 && (
          <Text size="xs" c="gray.4" data-testid="tile-metrics" style={{ whiteSpace: "nowrap" }}>
            {stream.width}×{stream.height} · {stream.fps.toFixed(0)} fps ·{" "}
            {formatBitrate(stream.bitrateBps)}
          </Text>
        )}
      </TileCaption>
    </Box>
  );
}
