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
  return { [CameraStatus.ONLINE]: "teal", [CameraStatus.CONNECTING]: "yellow", [CameraStatus.ERROR]: "red" }[s as number] ?? "gray";
}

export function nodeStateLabel(s: NodeState): string {
  return { [NodeState.READY]: "READY", [NodeState.LOST]: "LOST", [NodeState.OFFLINE]: "OFFLINE" }[s as number] ?? "UNKNOWN";
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
