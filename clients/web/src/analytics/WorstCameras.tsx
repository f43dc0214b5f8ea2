// The cameras with the least uptime over the range: uptime, outages, the longest, MTBF and
// recorded ÷ expected, each linked to its camera page.
import { Anchor, Card, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router";
import type {
  CameraCoverage,
  CameraUptime,
} from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { formatDuration, formatPercent } from "./format";

export function WorstCameras({
  cameras,
  coverage,
}: {
  cameras: CameraUptime[];
  coverage: ReadonlyMap<string, CameraCoverage>;
}) {
  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        Cameras with the least uptime
      </Title>
      <Table data-testid="worst-cameras">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Camera</Table.Th>
            <Table.Th>Uptime</Table.Th>
            <Table.Th>Outages</Table.Th>
            <Table.Th>Down</Table.Th>
            <Table.Th>Longest outage</Table.Th>
            <Table.Th>MTBF</Table.Th>
            <Table.Th>Coverage</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {cameras.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={7}>
                <Text c="dimmed" size="sm">
                  No cameras in this range.
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
          {cameras.map((c) => {
            const cov = coverage.get(c.cameraId);
            return (
              <Table.Tr key={c.cameraId} data-testid="worst-row" data-camera-id={c.cameraId}>
                <Table.Td>
                  <Anchor component={Link} to={`/cameras/${c.cameraId}`}>
                    {c.cameraName || c.cameraId}
                  </Anchor>
                </Table.Td>
                <Table.Td data-testid="cell-uptime">{formatPercent(c.uptime)}</Table.Td>
                <Table.Td data-testid="cell-outages">{c.outages?.count ?? 0}</Table.Td>
                <Table.Td data-testid="cell-down">{formatDuration(c.down)}</Table.Td>
                <Table.Td data-testid="cell-longest">{formatDuration(c.outages?.longest)}</Table.Td>
                <Table.Td data-testid="cell-mtbf">{formatDuration(c.outages?.mtbf)}</Table.Td>
                <Table.Td data-testid="cell-coverage">
                  {cov ? formatPercent(cov.coverage) : "—"}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Card>
  );
}
