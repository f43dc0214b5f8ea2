// Recorded ÷ expected for the fleet over the range, and where the missing time went, by cause.
import { Anchor, Card, Group, Stack, Table, Text, Title } from "@mantine/core";
import { Link } from "react-router";
import { BarChart } from "@mantine/charts";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { GetCoverageResponse } from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { formatDuration, formatPercent, gapCauseLabel } from "./format";

export function Coverage({ coverage }: { coverage: GetCoverageResponse }) {
  // Cameras that missed something, worst first (the page asks for the least covered).
  const worst = coverage.cameras.filter((c) => c.coverage < 1);
  const gaps = [...coverage.fleetGaps].sort(
    (a, b) => (b.total ? durationMs(b.total) : 0) - (a.total ? durationMs(a.total) : 0),
  );
  const data = gaps.map((g) => ({
    cause: gapCauseLabel(g.cause),
    minutes: Math.round((g.total ? durationMs(g.total) : 0) / 600) / 100,
  }));
  return (
    <Card withBorder data-testid="coverage-card">
      <Group justify="space-between" align="flex-start">
        <Stack gap={0}>
          <Title order={4}>Recording coverage</Title>
          <Text size="xs" c="dimmed">
            Recorded {formatDuration(coverage.fleetRecorded)} of{" "}
            {formatDuration(coverage.fleetExpected)} expected
          </Text>
        </Stack>
        <Text size="xl" fw={700} data-testid="fleet-coverage" data-value={coverage.fleetCoverage}>
          {formatPercent(coverage.fleetCoverage)}
        </Text>
      </Group>
      {gaps.length === 0 ? (
        <Text size="sm" c="dimmed" mt="md" data-testid="no-gaps">
          No gaps in recording in this range.
        </Text>
      ) : (
        <>
          <BarChart
            h={160}
            mt="md"
            data={data}
            dataKey="cause"
            series={[{ name: "minutes", label: "Minutes missing", color: "red.6" }]}
            data-testid="gap-chart"
          />
          <Table mt="sm" data-testid="gap-causes">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Cause</Table.Th>
                <Table.Th>Gaps</Table.Th>
                <Table.Th>Missing</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {gaps.map((g) => (
                <Table.Tr key={g.cause} data-testid="gap-row">
                  <Table.Td>{gapCauseLabel(g.cause)}</Table.Td>
                  <Table.Td>{g.count}</Table.Td>
                  <Table.Td>{formatDuration(g.total)}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </>
      )}
      {worst.length > 0 && (
        <Table mt="sm" data-testid="coverage-worst">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Least covered</Table.Th>
              <Table.Th>Coverage</Table.Th>
              <Table.Th>Missing, by cause</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {worst.map((c) => (
              <Table.Tr key={c.cameraId} data-testid="coverage-row" data-camera-id={c.cameraId}>
                <Table.Td>
                  <Anchor component={Link} to={`/cameras/${c.cameraId}`}>
                    {c.cameraName || c.cameraId}
                  </Anchor>
                </Table.Td>
                <Table.Td>{formatPercent(c.coverage)}</Table.Td>
                <Table.Td>
                  {c.gaps.length
                    ? c.gaps
                        .map((g) => `${gapCauseLabel(g.cause)} ${formatDuration(g.total)}`)
                        .join(", ")
                    : "—"}
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Card>
  );
}
