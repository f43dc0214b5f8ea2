// The fleet's uptime over the range: the figure, its outages, and the trend per bucket.
import { Card, Group, Stack, Text, Title } from "@mantine/core";
import { AreaChart } from "@mantine/charts";
import type { GetUptimeResponse } from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { formatDuration, formatPercent, uptimeRows } from "./format";

export function FleetUptime({ uptime, bucketMs }: { uptime: GetUptimeResponse; bucketMs: number }) {
  const data = uptimeRows(uptime.fleetBuckets, bucketMs);
  const outages = uptime.fleetOutages;
  return (
    <Card withBorder data-testid="fleet-uptime-card">
      <Group justify="space-between" align="flex-start">
        <Stack gap={0}>
          <Title order={4}>Fleet uptime</Title>
          <Text size="xs" c="dimmed">
            Every camera&apos;s seconds up over the seconds known, {uptime.totalSize} cameras
          </Text>
        </Stack>
        <Group gap="xl">
          <Stack gap={0} align="flex-end">
            <Text size="xl" fw={700} data-testid="fleet-uptime" data-value={uptime.fleetUptime}>
              {formatPercent(uptime.fleetUptime)}
            </Text>
            <Text size="xs" c="dimmed">
              uptime
            </Text>
          </Stack>
          <Stack gap={0} align="flex-end">
            <Text size="xl" fw={700} data-testid="fleet-outages">
              {outages?.count ?? 0}
            </Text>
            <Text size="xs" c="dimmed">
              outages, {formatDuration(outages?.total)} down
            </Text>
          </Stack>
        </Group>
      </Group>
      {data.length > 1 ? (
        <AreaChart
          h={220}
          mt="md"
          data={data}
          dataKey="at"
          series={[{ name: "uptime", label: "Uptime", color: "teal.6" }]}
          unit=" %"
          yAxisProps={{ domain: [0, 100] }}
          curveType="linear"
          dotProps={{ r: 2 }}
          connectNulls={false}
          data-testid="fleet-uptime-chart"
        />
      ) : (
        <Text size="sm" c="dimmed" mt="md">
          No trend to draw for this range.
        </Text>
      )}
    </Card>
  );
}
