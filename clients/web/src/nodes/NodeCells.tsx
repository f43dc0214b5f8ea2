// The fleet columns of a node's row: its load against capacity (and the CPU cores its agent
// said), its cameras (placed there or arriving in a handover), its labels, and a drain's progress.
import { Anchor, Badge, Group, Progress, Stack, Text, Tooltip } from "@mantine/core";
import { Link } from "react-router";
import type { Camera } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import type { Node } from "@camfleet/client/gen/camfleet/v1/node_pb.js";
import { cameraStatusColor, cameraStatusLabel } from "../format";
import { loadOf } from "../fleet/words";

const SHOWN_CAMERAS = 8;

export function LoadBar({ node }: { node: Node }) {
  const load = loadOf(node.cameraCount, node.capacity);
  return (
    <Stack
      gap={2}
      w={140}
      data-testid="node-load"
      data-count={load.count}
      data-capacity={load.capacity}
    >
      <Progress value={load.percent} color={load.color} size="md" aria-label={load.label} />
      <Text size="xs" data-testid="node-load-label">
        {load.label}
      </Text>
      {node.cpuCores > 0 && (
        // Placement prefers keeping its cameras' ladder transcoding within 90 % of these.
        <Text size="xs" c="dimmed" data-testid="node-cpu-cores" data-cores={node.cpuCores}>
          {`${Number(node.cpuCores.toFixed(2))} CPU cores for transcoding`}
        </Text>
      )}
    </Stack>
  );
}

/** The node's cameras: those placed or homed on it, then those moving onto it. */
export function NodeCameras({ node, cameras }: { node: Node; cameras: readonly Camera[] }) {
  const here = cameras.filter((c) => c.nodeId === node.id);
  const arriving = cameras.filter((c) => c.handoverNodeId === node.id && c.nodeId !== node.id);
  if (here.length + arriving.length === 0)
    return (
      <Text size="xs" c="dimmed" data-testid="node-cameras">
        none
      </Text>
    );
  const all = [
    ...here.map((c) => ({ c, arriving: false })),
    ...arriving.map((c) => ({ c, arriving: true })),
  ];
  return (
    <Group gap={4} maw={320} data-testid="node-cameras">
      {all.slice(0, SHOWN_CAMERAS).map(({ c, arriving: a }) => (
        <Tooltip
          key={c.id}
          label={
            a
              ? `${c.name}: moving here, already pulling`
              : `${c.name}: ${cameraStatusLabel(c.status)}`
          }
        >
          <Anchor
            component={Link}
            to={`/cameras/${c.id}`}
            size="xs"
            data-testid="node-camera"
            data-name={c.name}
            data-arriving={a ? "true" : undefined}
          >
            <Badge
              size="sm"
              variant={a ? "outline" : "light"}
              color={cameraStatusColor(c.status)}
              style={{ cursor: "pointer", textTransform: "none" }}
            >
              {a ? `→ ${c.name}` : c.name}
            </Badge>
          </Anchor>
        </Tooltip>
      ))}
      {all.length > SHOWN_CAMERAS && (
        <Text size="xs" c="dimmed">
          and {all.length - SHOWN_CAMERAS} more
        </Text>
      )}
    </Group>
  );
}

export function NodeLabels({ labels }: { labels: Record<string, string> }) {
  const keys = Object.keys(labels).sort();
  if (!keys.length)
    return (
      <Text size="xs" c="dimmed" data-testid="node-labels">
        no labels
      </Text>
    );
  return (
    <Group gap={4} data-testid="node-labels">
      {keys.map((k) => (
        <Badge
          key={k}
          size="sm"
          variant="outline"
          style={{ textTransform: "none" }}
          data-testid="node-label"
        >
          {k}={labels[k]}
        </Badge>
      ))}
    </Group>
  );
}

/** "3 cameras to move" with a bar from when this page first saw the drain (`startedWith`). */
export function DrainProgress({ node, startedWith }: { node: Node; startedWith: number }) {
  const left = node.drainRemaining;
  const total = Math.max(startedWith, left);
  const done = left === 0;
  return (
    <Stack gap={2} w={160} mt={6} data-testid="node-drain-progress" data-remaining={left}>
      <Progress
        value={total === 0 ? 100 : ((total - left) / total) * 100}
        color={done ? "teal" : "orange"}
        size="sm"
        animated={!done}
      />
      <Text size="xs" c={done ? "teal" : "orange"}>
        {done
          ? "Drained: no pull cameras left on it."
          : `${left} pull camera${left === 1 ? "" : "s"} still to move`}
      </Text>
    </Stack>
  );
}
