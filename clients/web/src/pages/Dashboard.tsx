// The fleet at a glance, live from WatchEvents: camera counts by status, nodes and their health,
// and what just happened.
import { Badge, Card, Group, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { CameraStatus } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { EventType } from "@camfleet/client/gen/camfleet/v1/event_pb.js";
import { useAuth } from "../auth/AuthContext";
import { ConnectionBadge } from "../components/ConnectionBadge";
import {
  cameraStatusColor,
  cameraStatusLabel,
  formatAgo,
  formatTime,
  nodeStateColor,
  nodeStateLabel,
} from "../format";
import { useFleet } from "../watch/FleetContext";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { FiringPanel } from "../alerts/FiringPanel";

function Stat({
  label,
  value,
  color,
  testId,
}: {
  label: string;
  value: number;
  color?: string;
  testId: string;
}) {
  return (
    <Card withBorder padding="md">
      <Text size="sm" c="dimmed">
        {label}
      </Text>
      <Text size="xl" fw={700} c={color} data-testid={testId}>
        {value}
      </Text>
    </Card>
  );
}

const pct = (used: bigint, total: bigint) =>
  total > 0n ? (Number(used) / Number(total)) * 100 : 0;

export function DashboardPage() {
  const { abilities } = useAuth();
  const fleet = useFleet();
  const cameras = [...fleet.cameras.values()];
  const count = (s: CameraStatus) => cameras.filter((c) => c.status === s).length;
  const online = count(CameraStatus.ONLINE);
  const nodes = [...fleet.nodes.values()].sort((a, b) => a.name.localeCompare(b.name));

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Dashboard</Title>
        <Group gap="xs">
          <Text size="xs" c="dimmed" data-testid="watch-revision">
            {fleet.phase.kind === "live" || fleet.phase.kind === "reconnecting"
              ? `revision ${fleet.phase.revision}`
              : ""}
          </Text>
          <ConnectionBadge phase={fleet.phase} />
        </Group>
      </Group>
      <SimpleGrid cols={{ base: 2, md: 5 }}>
        <Stat label="Cameras" value={cameras.length} testId="count-total" />
        <Stat label="Online" value={online} color="teal" testId="count-online" />
        <Stat
          label="Connecting"
          value={count(CameraStatus.CONNECTING)}
          color="yellow"
          testId="count-connecting"
        />
        <Stat
          label="Offline"
          value={count(CameraStatus.OFFLINE) + count(CameraStatus.UNSPECIFIED)}
          testId="count-offline"
        />
        <Stat label="Errors" value={count(CameraStatus.ERROR)} color="red" testId="count-error" />
      </SimpleGrid>

      {abilities.can(Permission.ALERTS_READ) && <FiringPanel />}

      <Card withBorder>
        <Title order={4} mb="xs">
          Cameras
        </Title>
        <Group gap="xs" data-testid="dashboard-cameras">
          {cameras.length === 0 && <Text c="dimmed">No cameras yet.</Text>}
          {cameras
            .sort((a, b) => a.name.localeCompare(b.name))
            .map((c) => (
              <Badge
                key={c.id}
                color={cameraStatusColor(c.status)}
                variant="light"
                data-testid="dashboard-camera"
                data-name={c.name}
                data-status={cameraStatusLabel(c.status)}
              >
                {c.name} · {cameraStatusLabel(c.status)}
              </Badge>
            ))}
        </Group>
      </Card>

      {abilities.can(Permission.NODES_READ) && (
        <Card withBorder>
          <Title order={4} mb="xs">
            Nodes
          </Title>
          <Table data-testid="dashboard-nodes">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Node</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>Streams</Table.Th>
                <Table.Th>CPU</Table.Th>
                <Table.Th>Memory</Table.Th>
                <Table.Th>Disk</Table.Th>
                <Table.Th>Last heartbeat</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {nodes.length === 0 && (
                <Table.Tr>
                  <Table.Td colSpan={7}>
                    <Text c="dimmed">No nodes have joined.</Text>
                  </Table.Td>
                </Table.Tr>
              )}
              {nodes.map((n) => (
                <Table.Tr
                  key={n.id}
                  data-testid="dashboard-node"
                  data-name={n.name}
                  data-state={nodeStateLabel(n.state)}
                >
                  <Table.Td>
                    {n.name}
                    {!n.schedulable && (
                      <Badge ml="xs" size="xs" color="orange">
                        {n.draining ? "draining" : "cordoned"}
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge color={nodeStateColor(n.state)}>{nodeStateLabel(n.state)}</Badge>
                  </Table.Td>
                  <Table.Td>
                    {n.streamCount} / {n.capacity}
                  </Table.Td>
                  <Table.Td w={110}>
                    <Progress value={n.host?.cpuPercent ?? 0} size="sm" />
                    <Text size="xs">{(n.host?.cpuPercent ?? 0).toFixed(0)} %</Text>
                  </Table.Td>
                  <Table.Td w={110}>
                    <Progress
                      value={pct(n.host?.memoryUsedBytes ?? 0n, n.host?.memoryTotalBytes ?? 0n)}
                      size="sm"
                    />
                  </Table.Td>
                  <Table.Td w={110}>
                    <Progress
                      value={pct(n.host?.diskUsedBytes ?? 0n, n.host?.diskTotalBytes ?? 0n)}
                      size="sm"
                    />
                  </Table.Td>
                  <Table.Td>{formatAgo(n.lastHeartbeatTime)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}

      <Card withBorder>
        <Group justify="space-between" mb="xs">
          <Title order={4}>Recent events</Title>
          <Text size="xs" c="dimmed" data-testid="events-received">
            {fleet.received} received
          </Text>
        </Group>
        <Stack gap={4} data-testid="recent-events">
          {fleet.recent.length === 0 && (
            <Text c="dimmed" size="sm">
              Nothing has happened since this page opened.
            </Text>
          )}
          {fleet.recent.map((e) => (
            <Group
              key={String(e.revision)}
              gap="sm"
              wrap="nowrap"
              data-testid="recent-event"
              data-type={EventType[e.type]}
            >
              <Text size="xs" c="dimmed" w={170}>
                {formatTime(e.time)}
              </Text>
              <Text size="sm">{e.message}</Text>
            </Group>
          ))}
        </Stack>
      </Card>
    </Stack>
  );
}
