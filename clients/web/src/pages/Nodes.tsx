// Nodes: health from the live feed, each node's cameras and load against capacity, labels with
// an editor, cordon/uncordon/drain (with the drain's progress, live from node events)/delete,
// which control-plane replica leads, join tokens for new nodes, and a link to each node's
// storage (for those who may read analytics, like the nav entry).
import { useEffect, useMemo, useState } from "react";
import {
  ActionIcon,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  Menu,
  Modal,
  Stack,
  Table,
  Text,
  Title,
  Tooltip,
} from "@mantine/core";
import { modals } from "@mantine/modals";
import { Link, useSearchParams } from "react-router";
import type { Node } from "@camfleet/client/gen/camfleet/v1/node_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { attempt, ErrorAlert } from "../components/feedback";
import { formatAgo, formatBytes, nodeStateColor, nodeStateLabel } from "../format";
import { LeaderBadge } from "../nodes/LeaderBadge";
import { DrainProgress, LoadBar, NodeCameras, NodeLabels } from "../nodes/NodeCells";
import { NodeLabelsEditor } from "../nodes/NodeLabelsEditor";
import { useFleet, useFleetUpdates } from "../watch/FleetContext";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";

export default function NodesPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const fleet = useFleet();
  const canEdit = abilities.can(Permission.NODES_WRITE);
  // The Storage page reads analytics; without that permission it would only refuse.
  const canSeeStorage = abilities.can(Permission.ANALYTICS_READ);
  const nodes = [...fleet.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  const [joinSecret, setJoinSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [labelling, setLabelling] = useState<Node | null>(null);
  const { putNode } = useFleetUpdates();
  const cameras = useMemo(
    () => [...fleet.cameras.values()].sort((a, b) => a.name.localeCompare(b.name)),
    [fleet.cameras],
  );
  // A link from a camera's page (?node=ID) marks that node's row.
  const [params] = useSearchParams();
  const marked = params.get("node");

  const markedShown = marked !== null && fleet.nodes.has(marked);
  useEffect(() => {
    if (markedShown)
      document.querySelector('[data-marked="true"]')?.scrollIntoView({ block: "center" });
  }, [markedShown]);

  // A drain's progress bar runs from the most cameras this page saw left on the node.
  const [drainStart, setDrainStart] = useState<Record<string, number>>({});
  useEffect(() => {
    setDrainStart((prev) => {
      const next: Record<string, number> = {};
      for (const n of fleet.nodes.values())
        if (n.draining) next[n.id] = Math.max(prev[n.id] ?? 0, n.drainRemaining);
      return next;
    });
  }, [fleet.nodes]);

  // The live feed carries nodes only for those who may read them; anyone else opening this
  // page gets the server's answer, in words.
  useEffect(() => {
    if (!abilities.can(Permission.NODES_READ)) api.nodes.listNodes({ pageSize: 1 }).catch(setError);
  }, [api, abilities]);

  const act = (n: Node, label: string, fn: () => Promise<unknown>, danger?: string) => {
    const run = () => void attempt(fn, `${n.name}: ${label.toLowerCase()} done.`);
    if (!danger) return run();
    modals.openConfirmModal({
      title: `${label} ${n.name}?`,
      children: <Text size="sm">{danger}</Text>,
      labels: { confirm: label, cancel: "Cancel" },
      confirmProps: { color: "red" },
      onConfirm: run,
    });
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Group gap="lg">
          <Title order={2}>Nodes</Title>
          {abilities.can(Permission.NODES_READ) && <LeaderBadge />}
        </Group>
        {canEdit && (
          <Button
            data-testid="join-token-new"
            onClick={() =>
              void attempt(async () => {
                const r = await api.nodes.createJoinToken({});
                setJoinSecret(r.secret);
              })
            }
          >
            Add a node
          </Button>
        )}
      </Group>
      <ErrorAlert error={error} />
      <Table data-testid="node-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Load</Table.Th>
            <Table.Th>Cameras</Table.Th>
            <Table.Th>Labels</Table.Th>
            <Table.Th>Host</Table.Th>
            <Table.Th>Last heartbeat</Table.Th>
            {canEdit && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {nodes.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={8}>
                <Text c="dimmed">No nodes. Add one with a join token.</Text>
              </Table.Td>
            </Table.Tr>
          )}
          {nodes.map((n) => (
            <Table.Tr
              key={n.id}
              data-testid="node-row"
              data-name={n.name}
              data-state={nodeStateLabel(n.state)}
              data-marked={marked === n.id ? "true" : undefined}
              bg={marked === n.id ? "blue.0" : undefined}
            >
              <Table.Td>
                {n.name}
                <Text size="xs" c="dimmed">
                  {n.rtmpUrl}
                </Text>
                <Text size="xs" c="dimmed">
                  {n.version}
                </Text>
                {canSeeStorage && (
                  <Anchor
                    component={Link}
                    to={`/storage?node=${encodeURIComponent(n.id)}`}
                    size="xs"
                    data-testid="node-storage-link"
                    aria-label={`Storage of ${n.name}`}
                  >
                    Storage
                  </Anchor>
                )}
              </Table.Td>
              <Table.Td miw={120}>
                <Badge color={nodeStateColor(n.state)}>{nodeStateLabel(n.state)}</Badge>
                {!n.schedulable && (
                  <Badge ml={4} color="orange" data-testid="node-cordoned">
                    {n.draining ? "draining" : "cordoned"}
                  </Badge>
                )}
                {n.stateReason && (
                  <Text size="xs" c="dimmed">
                    {n.stateReason}
                  </Text>
                )}
                {n.draining && <DrainProgress node={n} startedWith={drainStart[n.id] ?? 0} />}
              </Table.Td>
              <Table.Td>
                <LoadBar node={n} />
                <Text size="xs" c="dimmed">
                  {n.streamCount} stream{n.streamCount === 1 ? "" : "s"} live
                </Text>
              </Table.Td>
              <Table.Td>
                <NodeCameras node={n} cameras={cameras} />
              </Table.Td>
              <Table.Td>
                <Group gap={4} wrap="nowrap">
                  <NodeLabels labels={n.labels} />
                  {canEdit && (
                    <Tooltip label="Edit labels">
                      <ActionIcon
                        size="sm"
                        variant="subtle"
                        aria-label={`Edit the labels of ${n.name}`}
                        data-testid="node-labels-edit"
                        onClick={() => setLabelling(n)}
                      >
                        ✎
                      </ActionIcon>
                    </Tooltip>
                  )}
                </Group>
              </Table.Td>
              <Table.Td>
                <Text size="xs">CPU {(n.host?.cpuPercent ?? 0).toFixed(0)} %</Text>
                <Text size="xs">
                  RAM {formatBytes(n.host?.memoryUsedBytes ?? 0n)} /{" "}
                  {formatBytes(n.host?.memoryTotalBytes ?? 0n)}
                </Text>
                <Text size="xs">
                  Disk {formatBytes(n.host?.diskUsedBytes ?? 0n)} /{" "}
                  {formatBytes(n.host?.diskTotalBytes ?? 0n)}
                </Text>
              </Table.Td>
              <Table.Td>{formatAgo(n.lastHeartbeatTime)}</Table.Td>
              {canEdit && (
                <Table.Td>
                  <Menu position="bottom-end">
                    <Menu.Target>
                      <Button size="xs" variant="subtle" data-testid="node-actions">
                        Actions
                      </Button>
                    </Menu.Target>
                    <Menu.Dropdown>
                      {n.schedulable ? (
                        <Menu.Item
                          data-testid="node-cordon"
                          onClick={() => act(n, "Cordon", () => api.nodes.cordonNode({ id: n.id }))}
                        >
                          Cordon
                        </Menu.Item>
                      ) : (
                        <Menu.Item
                          data-testid="node-uncordon"
                          onClick={() =>
                            act(n, "Uncordon", () => api.nodes.uncordonNode({ id: n.id }))
                          }
                        >
                          Uncordon
                        </Menu.Item>
                      )}
                      <Menu.Item
                        color="orange"
                        data-testid="node-drain"
                        disabled={n.draining}
                        onClick={() =>
                          act(
                            n,
                            "Drain",
                            () => api.nodes.drainNode({ id: n.id }),
                            "Its pull cameras move to other nodes, each started there before it stops here (no gap). New cameras are not placed on it.",
                          )
                        }
                      >
                        Drain
                      </Menu.Item>
                      <Menu.Item
                        color="red"
                        onClick={() =>
                          act(
                            n,
                            "Delete",
                            () => api.nodes.deleteNode({ id: n.id }),
                            "Its credential stops working; the agent must join again.",
                          )
                        }
                      >
                        Delete
                      </Menu.Item>
                    </Menu.Dropdown>
                  </Menu>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {labelling && (
        <NodeLabelsEditor
          node={labelling}
          onClose={() => setLabelling(null)}
          onSaved={(n) => {
            putNode(n);
            setLabelling(null);
          }}
        />
      )}
      <Modal
        opened={joinSecret !== null}
        onClose={() => setJoinSecret(null)}
        title="Join token (shown once)"
        size="lg"
      >
        <Stack>
          <Text size="sm">Start the agent on the new host with this token within an hour:</Text>
          <Code block data-testid="join-token-secret">
            python -m node_agent --control-plane HOST:50051 --join-token {joinSecret}
          </Code>
        </Stack>
      </Modal>
    </Stack>
  );
}
