// A WHEP client (RFC 9725): a receive-only peer connection preferring H.264 (the node forwards
// the camera's H.264 without re-encoding; Chromium lists VP8 first), one POST of the complete
// offer (ICE gathered first: the node takes no trickled candidates) and a DELETE on close.

/** Why WebRTC could not be used, as a sentence for the person watching. */
export class WhepError extends Error {}

/** The codecs to prefer: H.264 first (packetization-mode 1 before 0), then nothing else. */
export function preferH264<T extends { mimeType: string; sdpFmtpLine?: string }>(
  codecs: readonly T[],
): T[] {
  const h264 = codecs.filter((c) => c.mimeType.toLowerCase() === "video/h264");
  const mode1 = (c: T) => (c.sdpFmtpLine ?? "").includes("packetization-mode=1");
  return [...h264.filter(mode1), ...h264.filter((c) => !mode1(c))];
}

/** The session URL from a 201's Location (relative to the endpoint). */
export function sessionUrl(endpoint: string, location: string | null): string {
  if (!location) throw new WhepError("The node did not say where the session lives.");
  return new URL(location, endpoint).toString();
}

/** A one-line reason from a refusal's body (the node answers in sentences). */
export function refusalReason(status: number, body: string): string {
  const line = body.trim().split("\n")[0]?.trim();
  return line ? line : `The node refused WebRTC (HTTP ${status}).`;
}

function gathered(pc: RTCPeerConnection, withinMs: number): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      window.clearTimeout(timer);
      pc.removeEventListener("icegatheringstatechange", check);
      resolve();
    };
    const check = () => {
      if (pc.iceGatheringState === "complete") done();
    };
    // Whatever was gathered by then is offered: loopback and host candidates come at once.
    const timer = window.setTimeout(done, withinMs);
    pc.addEventListener("icegatheringstatechange", check);
  });
}

export interface WhepSession {
  pc: RTCPeerConnection;
  stream: MediaStream;
  /** End the session: DELETE at the node, close the peer connection. */
  close(): void;
}

/** Start a WHEP session at `endpoint`; WhepError with a sentence when it cannot be used. */
export async function startWhep(endpoint: string, signal?: AbortSignal): Promise<WhepSession> {
  if (typeof RTCPeerConnection === "undefined") throw new WhepError("This browser has no WebRTC.");
  const codecs = preferH264(RTCRtpReceiver.getCapabilities?.("video")?.codecs ?? []);
  if (codecs.length === 0) throw new WhepError("This browser cannot receive H.264 over WebRTC.");
  const pc = new RTCPeerConnection({ iceServers: [] });
  const stream = new MediaStream();
  pc.addEventListener("track", (e) => stream.addTrack(e.track));
  let location = "";
  const close = () => {
    if (location) void fetch(location, { method: "DELETE", keepalive: true }).catch(() => {});
    location = "";
    pc.close();
  };
  try {
    const transceiver = pc.addTransceiver("video", { direction: "recvonly" });
    transceiver.setCodecPreferences(codecs);
    // The camera's sound, when it has any (the node sends it as Opus).
    pc.addTransceiver("audio", { direction: "recvonly" });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 2000);
    const offer = pc.localDescription?.sdp ?? "";
    let resp: Response;
    try {
      resp = await fetch(endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/sdp" },
        body: offer,
        signal,
      });
    } catch {
      throw new WhepError("The node could not be reached for WebRTC.");
    }
    const body = await resp.text();
    if (resp.status !== 201) throw new WhepError(refusalReason(resp.status, body));
    location = sessionUrl(endpoint, resp.headers.get("Location"));
    await pc.setRemoteDescription({ type: "answer", sdp: body });
    return { pc, stream, close };
  } catch (err) {
    close();
    if (err instanceof WhepError) throw err;
    throw new WhepError(`WebRTC could not start: ${String((err as Error).message ?? err)}`);
  }
}
