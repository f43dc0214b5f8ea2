// Display helpers shared by the pages.
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { CameraStatus } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { NodeState } from "@camfleet/client/gen/camfleet/v1/node_pb.js";

export function cameraStatusLabel(s: CameraStatus): string {
  switch (s) {
    case CameraStatus.ONLINE:
      return "ONLINE";
    case CameraStatus.CONNECTING:
      return "CONNECTING";
    case CameraStatus.ERROR:
      return "ERROR";
    default:
      return "OFFLINE";
  }
}

export function cameraStatusColor(s: CameraStatus): string {
  return (
    {
      [CameraStatus.ONLINE]: "teal",
      [CameraStatus.CONNECTING]: "yellow",
      [CameraStatus.ERROR]: "red",
    }[s as number] ?? "gray"
  );
}

export function nodeStateLabel(s: NodeState): string {
  return (
    { [NodeState.READY]: "READY", [NodeState.LOST]: "LOST", [NodeState.OFFLINE]: "OFFLINE" }[
      s as number
    ] ?? "UNKNOWN"
  );
}

export function nodeStateColor(s: NodeState): string {
  return { [NodeState.READY]: "teal", [NodeState.LOST]: "red" }[s as number] ?? "gray";
}

export function formatTime(ts: Timestamp | undefined): string {
  if (!ts) return "—";
  return timestampDate(ts).toLocaleString();
}

export function formatBytes(n: bigint | number): string {
  let v = Number(n);
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function formatBitrate(bps: bigint | number): string {
  const v = Number(bps);
  return v >= 1e6 ? `${(v / 1e6).toFixed(1)} Mbit/s` : `${Math.round(v / 1e3)} kbit/s`;
}

/** "5 s ago", "3 min ago"; the full time for anything older than a day. */
export function formatAgo(ts: Timestamp | undefined, now: number = Date.now()): string {
  if (!ts) return "never";
  const ms = timestampDate(ts).getTime();
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleString();
}
