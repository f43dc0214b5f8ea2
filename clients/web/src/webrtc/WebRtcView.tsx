// The single-camera view: the camera's live video over WebRTC (WHEP, sub-second), and by itself
// the HLS tile when WebRTC cannot be used (the node refuses or is out of sessions, the browser
// has no H.264 over WebRTC, the connection fails or no picture comes), saying why.
import { useEffect, useRef, useState } from "react";
import { Badge, Box, Button, Group, Stack, Text } from "@mantine/core";
import { CameraStatus, type Camera } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import type { StreamStatus } from "@camfleet/client/gen/camfleet/v1/stream_pb.js";
import { describeError } from "../api/errors";
import { useApi } from "../auth/AuthContext";
import { cameraStatusLabel } from "../format";
import { HlsTile } from "../grid/HlsTile";
import { TileCaption } from "../grid/TileCaption";
import { startWhep, WhepError, type WhepSession } from "./whep";

// A connection that shows no moving picture this long is given up for HLS.
const NO_PICTURE_MS = 15_000;

type Transport = "webrtc" | "hls";

export function WebRtcView({ camera, stream }: { camera: Camera; stream?: StreamStatus }) {
  const api = useApi();
  const video = useRef<HTMLVideoElement>(null);
  const online = camera.status === CameraStatus.ONLINE;
  const [transport, setTransport] = useState<Transport>("webrtc");
  const [state, setState] = useState<"loading" | "playing">("loading");
  const [reason, setReason] = useState("");
  // Muted first: browsers autoplay only muted video; the person turns sound on.
  const [muted, setMuted] = useState(true);

  // A camera that comes back online is tried over WebRTC again.
  useEffect(() => {
    if (online) {
      setTransport("webrtc");
      setReason("");
    }
  }, [online, camera.id]);

  useEffect(() => {
    const el = video.current;
    if (!el || !online || transport !== "webrtc") return;
    let session: WhepSession | null = null;
    let cancelled = false;
    const abort = new AbortController();
    const fallBack = (why: string) => {
      if (cancelled) return;
      cancelled = true;
      session?.close();
      session = null;
      setReason(why);
      setTransport("hls");
    };
    setState("loading");
    let last = -1;
    let since = Date.now();
    const watchdog = window.setInterval(() => {
      if (el.currentTime !== last) {
        last = el.currentTime;
        since = Date.now();
        if (el.currentTime > 0) setState("playing");
      } else if (Date.now() - since > NO_PICTURE_MS) {
        fallBack("No picture arrived over WebRTC.");
      }
    }, 500);
    api.cameras
      .getStreamUrls({ id: camera.id })
      .then((urls) => {
        if (!urls.whepUrl) throw new WhepError("The node offers no WebRTC for this camera.");
        return startWhep(urls.whepUrl, abort.signal);
      })
      .then((s) => {
        if (cancelled) {
          s.close();
          return;
        }
        session = s;
        // The wait for a picture counts from the node's answer and again from the connection,
        // not from the page's start: a busy node may take a while to answer, and falling back
        // then would give up on a session that was about to play.
        since = Date.now();
        s.pc.addEventListener("connectionstatechange", () => {
          if (s.pc.connectionState === "connected") since = Date.now();
          if (s.pc.connectionState === "failed") fallBack("The WebRTC connection failed.");
        });
        el.srcObject = s.stream;
        void el.play().catch(() => undefined);
      })
      .catch((err: unknown) => {
        fallBack(err instanceof WhepError ? err.message : describeError(err).sentence);
      });
    return () => {
      cancelled = true;
      window.clearInterval(watchdog);
      abort.abort();
      session?.close();
      el.srcObject = null;
    };
  }, [api, camera.id, online, transport]);

  const badge = (
    <Badge
      size="sm"
      variant="filled"
      color={transport === "webrtc" ? "teal" : "blue"}
      data-testid="live-transport"
      data-transport={transport}
    >
      {transport === "webrtc" ? "WebRTC" : "HLS"}
    </Badge>
  );

  if (transport === "hls" || !online)
    return (
      <Stack gap={4} data-testid="live-single" data-transport="hls">
        <HlsTile camera={camera} stream={stream} rungs="all" />
        {online && (
          <Group gap={6}>
            {badge}
            <Text size="xs" c="dimmed" data-testid="webrtc-fallback-reason">
              {reason ? `Playing over HLS: ${reason}` : "Playing over HLS."}
            </Text>
          </Group>
        )}
      </Stack>
    );

  return (
    <Stack gap={4} data-testid="live-single" data-transport="webrtc">
      <Box
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
          muted={muted}
          playsInline
          autoPlay
          style={{ width: "100%", height: "100%", objectFit: "contain", display: "block" }}
          data-testid="webrtc-video"
        />
        {state === "loading" && (
          <Text c="gray.5" ta="center" pos="absolute" top="45%" w="100%">
            Connecting over WebRTC…
          </Text>
        )}
        <TileCaption camera={camera} />
      </Box>
      <Group gap={6}>
        {badge}
        <Text size="xs" c="dimmed">
          Sub-second live video over WebRTC.
        </Text>
        <Button
          size="compact-xs"
          variant="subtle"
          onClick={() => setMuted((m) => !m)}
          data-testid="webrtc-sound"
          data-muted={muted}
        >
          {muted ? "Sound on" : "Sound off"}
        </Button>
      </Group>
    </Stack>
  );
}
