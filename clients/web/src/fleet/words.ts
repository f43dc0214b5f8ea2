// The fleet's machine words (placement reasons, gap causes, load against capacity) in the words
// and colours the pages show. Kept in one place so the camera page, the nodes page and the
// timeline legend never disagree.
import { PlacementReason } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { GapCause } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";

const REASONS: Record<number, string> = {
  [PlacementReason.PLACED]: "placed",
  [PlacementReason.NODE_LOST]: "its node was lost",
  [PlacementReason.DRAIN]: "its node is draining",
  [PlacementReason.REBALANCE]: "rebalanced",
  [PlacementReason.SELECTOR]: "node selector or node labels changed",
  [PlacementReason.UNPLACED]: "taken off its node",
  [PlacementReason.PUBLISHED]: "published to this node",
  [PlacementReason.HANDOVER_DONE]: "handover finished",
};

/** Why a camera moved, in words ("its node was lost"). */
export function placementReasonWords(r: PlacementReason): string {
  return REASONS[r] ?? "no reason given";
}

export interface GapCauseInfo {
  cause: GapCause;
  /** Short words for the legend and the tooltip ("node lost"). */
  label: string;
  /** A Mantine colour: each cause its own, so the bar reads without hovering. */
  color: string;
  /** The stable name tests and data attributes use ("NODE_LOST"). */
  key: string;
}

/** Every cause the legend lists, in the order a person looks for them. */
export const GAP_CAUSES: readonly GapCauseInfo[] = [
  { cause: GapCause.NODE_LOST, label: "node lost", color: "grape.6", key: "NODE_LOST" },
  { cause: GapCause.SOURCE_ERROR, label: "source error", color: "red.6", key: "SOURCE_ERROR" },
  {
    cause: GapCause.RECORDER_CRASH,
    label: "recorder crashed",
    color: "orange.6",
    key: "RECORDER_CRASH",
  },
  { cause: GapCause.DISK_FULL, label: "disk full", color: "yellow.6", key: "DISK_FULL" },
  {
    cause: GapCause.CAMERA_STOPPED,
    label: "camera stopped publishing",
    color: "blue.5",
    key: "CAMERA_STOPPED",
  },
  { cause: GapCause.UNKNOWN, label: "unknown cause", color: "gray.6", key: "UNKNOWN" },
];

/** How a gap of `cause` is drawn and named; a server older than causes says UNSPECIFIED,
 * shown as unknown. */
export function gapCauseInfo(cause: GapCause): GapCauseInfo {
  return GAP_CAUSES.find((c) => c.cause === cause) ?? GAP_CAUSES[GAP_CAUSES.length - 1];
}

/** A gap in one sentence: "Node lost (edge-2, then edge-1): node lost". `names` turns node ids
 * into names; `reason` is the server's free text, added when it says more than the cause. */
export function describeGap(
  cause: GapCause,
  nodeIds: readonly string[],
  reason: string,
  names: (id: string) => string,
): string {
  const info = gapCauseInfo(cause);
  const label = info.label[0].toUpperCase() + info.label.slice(1);
  const nodes = nodeIds.filter(Boolean).map(names);
  const where =
    nodes.length === 0
      ? ""
      : nodes.length === 1
        ? ` on ${nodes[0]}`
        : ` on ${nodes[0]}, taken over by ${nodes.slice(1).join(", ")}`;
  const extra = reason && reason.toLowerCase() !== info.label ? ` — ${reason}` : "";
  return `${label}${where}${extra}`;
}

export interface Load {
  count: number;
  /** 0: the node set no limit. */
  capacity: number;
  /** 0–100 for the bar (a node without a limit shows none). */
  percent: number;
  /** "3 / 8 cameras", "3 cameras (no limit)". */
  label: string;
  color: string;
}

/** A node's load against its capacity, for the bar. */
export function loadOf(count: number, capacity: number): Load {
  const plural = (n: number) => `${n} camera${n === 1 ? "" : "s"}`;
  if (capacity <= 0)
    return { count, capacity, percent: 0, label: `${plural(count)} (no limit)`, color: "gray" };
  const ratio = count / capacity;
  return {
    count,
    capacity,
    percent: Math.min(100, ratio * 100),
    label: `${count} / ${capacity} cameras`,
    color: ratio >= 1 ? "red" : ratio >= 0.8 ? "orange" : "teal",
  };
}
