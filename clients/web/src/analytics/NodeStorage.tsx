// One node's recordings disk(s): what is stored, how fast it grows, the retention-aware
// forecast (its verdict and sentence, the plateau or the days until full and the retention that
// actually fits), the bytes written per bucket over the range, and each camera's share.
import { useEffect, useState } from "react";
import { Badge, Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { BarChart } from "@mantine/charts";
import { durationFromMs, timestampDate } from "@bufbuild/protobuf/wkt";
import {
  ForecastVerdict,
  StorageGrouping,
  type NodeForecast,
  type StorageUse,
} from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { StorageTier } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import { ErrorAlert } from "../components/feedback";
import { formatBytes } from "../format";
import type { AnalyticsClient } from "./client";
import {
  bucketFor,
  bucketLabel,
  bytesUnit,
  formatBytesPerHour,
  formatDays,
  formatDuration,
  timeRange,
  verdictColor,
  verdictLabel,
  type Range,
} from "./format";

function Figure({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={600} data-testid={testId}>
        {value}
      </Text>
    </Stack>
  );
}

const TIER: Record<number, string> = {
  [StorageTier.HOT]: "hot",
  [StorageTier.WARM]: "warm",
  [StorageTier.COLD]: "cold",
};

function Forecast({ f }: { f: NodeForecast }) {
  return (
    <Card withBorder data-testid="forecast" data-tier={TIER[f.tier] ?? ""}>
      <Group justify="space-between" mb="xs">
        <Title order={5}>{TIER[f.tier] ? `The ${TIER[f.tier]} disk` : "Recordings disk"}</Title>
        <Badge color={verdictColor(f.verdict)} data-testid="forecast-verdict">
          {verdictLabel(f.verdict)}
        </Badge>
      </Group>
      <Text mb="sm" data-testid="forecast-summary">
        {f.summary}
      </Text>
      <SimpleGrid cols={{ base: 2, md: 4 }}>
        <Figure label="Recordings stored" value={formatBytes(f.recordingsBytes)} testId="stored" />
        <Figure label="Growth" value={formatBytesPerHour(f.bytesPerHour)} testId="growth" />
        <Figure
          label="Free of total"
          value={
            f.totalBytes > 0n ? `${formatBytes(f.freeBytes)} of ${formatBytes(f.totalBytes)}` : "—"
          }
          testId="free"
        />
        <Figure label="Kept free (floor)" value={formatBytes(f.floorBytes)} testId="floor" />
        {f.verdict === ForecastVerdict.RETENTION_MET && (
          <Figure label="Levels off at" value={formatBytes(f.plateauBytes)} testId="plateau" />
        )}
        {f.verdict === ForecastVerdict.FILLS_UP && (
          <>
            <Figure label="Full in" value={formatDays(f.daysUntilFull)} testId="days-until-full" />
            <Figure
              label="Retention that fits"
              value={formatDuration(f.achievableRetention)}
              testId="achievable-retention"
            />
          </>
        )}
      </SimpleGrid>
      {f.cameras.length > 0 && (
        <Table mt="sm" data-testid="forecast-cameras">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Camera</Table.Th>
              <Table.Th>Writes</Table.Th>
              <Table.Th>Retention</Table.Th>
              <Table.Th>Occupies once steady</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {f.cameras.map((c) => (
              <Table.Tr key={c.cameraId}>
                <Table.Td>{c.cameraName || c.cameraId}</Table.Td>
                <Table.Td>{formatBytesPerHour(c.bytesPerHour)}</Table.Td>
                <Table.Td>{c.retention ? formatDuration(c.retention) : "none"}</Table.Td>
                <Table.Td>{formatBytes(c.steadyBytes)}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Card>
  );
}

function Written({ use, bucketMs }: { use: StorageUse; bucketMs: number }) {
  const unit = bytesUnit(Math.max(0, ...use.buckets.map((b) => Number(b.bytesWritten))));
  const data = use.buckets.map((b) => ({
    at: b.startTime ? bucketLabel(timestampDate(b.startTime), bucketMs) : "",
    written: Math.round((Number(b.bytesWritten) / unit.divisor) * 10) / 10,
  }));
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={5}>Written per bucket</Title>
        <Text size="sm" data-testid="written-total">
          {formatBytes(use.bytesWritten)} in the range, {formatBytesPerHour(use.bytesPerHour)}
        </Text>
      </Group>
      {data.length ? (
        <BarChart
          h={200}
          data={data}
          dataKey="at"
          unit={` ${unit.label}`}
          series={[{ name: "written", label: "Written", color: "indigo.6" }]}
          data-testid="written-chart"
        />
      ) : (
        <Text size="sm" c="dimmed">
          Nothing written in this range.
        </Text>
      )}
    </Card>
  );
}

export function NodeStorage({
  analytics,
  nodeId,
  forecasts,
  range,
}: {
  analytics: AnalyticsClient;
  nodeId: string;
  forecasts: NodeForecast[];
  range: Range;
}) {
  const [use, setUse] = useState<StorageUse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const bucketMs = bucketFor(range, 96);

  useEffect(() => {
    let current = true;
    analytics
      .getStorage({
        range: timeRange(range),
        bucket: durationFromMs(bucketMs),
        groupBy: StorageGrouping.NODE,
        filter: `node_id = "${nodeId}"`,
      })
      .then((r) => {
        if (!current) return;
        setUse(r.items.find((i) => i.key === nodeId) ?? null);
        setError(null);
      })
      .catch((err) => current && setError(err));
    return () => {
      current = false;
    };
  }, [analytics, nodeId, range, bucketMs]);

  return (
    <Stack data-testid="node-storage" data-node-id={nodeId}>
      {forecasts.map((f) => (
        <Forecast key={`${f.nodeId}-${f.tier}`} f={f} />
      ))}
      <ErrorAlert error={error} testId="storage-error" />
      {use ? (
        <Written use={use} bucketMs={bucketMs} />
      ) : (
        !error && (
          <Text size="sm" c="dimmed">
            No recordings written on this node in the range.
          </Text>
        )
      )}
    </Stack>
  );
}
