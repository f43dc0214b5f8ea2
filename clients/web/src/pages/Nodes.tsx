// Nodes: health from the live feed, cordon/uncordon/drain/delete, and join tokens for new nodes.
import { useEffect, useState } from "react";
import { Badge, Button, Code, Group, Menu, Modal, Stack, Table, Text, Title } from "@mantine/core";
import { modals } from "@mantine/modals";
import type { Node } from "@camfleet/client/gen/camfleet/v1/node_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { attempt, ErrorAlert } from "../components/feedback";
import { formatAgo, formatBytes, nodeStateColor, nodeStateLabel } from "../format";
import { useFleet } from "../watch/FleetContext";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";

export default function NodesPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const fleet = useFleet();
  const canEdit = abilities.can(Permission.NODES_WRITE);
  const nodes = [...fleet.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));
  const [joinSecret, setJoinSecret] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);

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
        <Title order={2}>Nodes</Title>
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
            <Table.Th>Streams</Table.Th>
            <Table.Th>CPU</Table.Th>
            <Table.Th>Memory</Table.Th>
            <Table.Th>Disk</Table.Th>
            <Table.Th>Version</Table.Th>
            <Table.Th>Last heartbeat</Table.Th>
            {canEdit && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {nodes.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={9}>
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
            >
              <Table.Td>
                {n.name}
                <Text size="xs" c="dimmed">
                  {n.rtmpUrl}
                </Text>
              </Table.Td>
              <Table.Td>
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
              </Table.Td>
              <Table.Td>
                {n.streamCount} / {n.capacity}
              </Table.Td>
              <Table.Td>{(n.host?.cpuPercent ?? 0).toFixed(0)} %</Table.Td>
              <Table.Td>
                {formatBytes(n.host?.memoryUsedBytes ?? 0n)} /{" "}
                {formatBytes(n.host?.memoryTotalBytes ?? 0n)}
              </Table.Td>
              <Table.Td>
                {formatBytes(n.host?.diskUsedBytes ?? 0n)} /{" "}
                {formatBytes(n.host?.diskTotalBytes ?? 0n)}
              </Table.Td>
              <Table.Td>{n.version}</Table.Td>
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
                        onClick={() =>
                          act(
                            n,
                            "Drain",
                            () => api.nodes.drainNode({ id: n.id }),
                            "Its pull cameras move to other nodes.",
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
