// Analytics: the fleet's uptime and its trend, the cameras with the least uptime (outages,
// longest, MTBF, coverage), recorded ÷ expected with the gaps by cause, exports of the range,
// and scheduled reports. Every figure is the API's for the range shown (data-start/data-end).
import { useEffect, useState } from "react";
import { Group, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import type {
  CameraCoverage,
  GetCoverageResponse,
  GetUptimeResponse,
} from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useAuth } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";
import { useAnalytics } from "../analytics/client";
import { Coverage } from "../analytics/Coverage";
import { ExportButtons } from "../analytics/ExportButtons";
import { FleetUptime } from "../analytics/FleetUptime";
import { RangePicker } from "../analytics/RangePicker";
import { Schedules } from "../analytics/Schedules";
import { WorstCameras } from "../analytics/WorstCameras";
import { bucketFor, presetRange, timeRange, type Range } from "../analytics/format";

const WORST = 20;

interface Figures {
  range: Range;
  uptime: GetUptimeResponse;
  coverage: GetCoverageResponse;
  worstCoverage: Map<string, CameraCoverage>;
}

export default function AnalyticsPage() {
  const analytics = useAnalytics();
  const { abilities } = useAuth();
  const [range, setRange] = useState<Range>(() => presetRange("24h", Date.now()));
  const [figures, setFigures] = useState<Figures | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(false);
  const bucketMs = bucketFor(range);

  useEffect(() => {
    let current = true;
    setLoading(true);
    const load = async () => {
      const r = timeRange(range);
      const bucket = durationFromMs(bucketMs);
      const [uptime, coverage] = await Promise.all([
        analytics.getUptime({ range: r, bucket, orderBy: "uptime", pageSize: WORST }),
        analytics.getCoverage({ range: r, orderBy: "coverage", pageSize: 10 }),
      ]);
      // The worst cameras' own coverage (they need not be the worst covered).
      const ids = uptime.cameras.map((c) => `camera_id = "${c.cameraId}"`);
      const worst = ids.length
        ? await analytics.getCoverage({ range: r, filter: ids.join(" OR "), pageSize: WORST })
        : null;
      return {
        range,
        uptime,
        coverage,
        worstCoverage: new Map(worst?.cameras.map((c) => [c.cameraId, c]) ?? []),
      };
    };
    load()
      .then((f) => {
        if (!current) return;
        setFigures(f);
        setError(null);
      })
      .catch((err) => current && setError(err))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [analytics, range, bucketMs]);

  return (
    <Stack
      data-testid="analytics-page"
      data-loading={loading}
      data-start={figures?.range.start.toISOString()}
      data-end={figures?.range.end.toISOString()}
    >
      <Group justify="space-between" align="flex-end">
        <Title order={2}>Analytics</Title>
        <RangePicker value={range} onChange={setRange} />
      </Group>
      {figures && (
        <Text size="xs" c="dimmed" data-testid="analytics-range">
          {figures.range.start.toLocaleString()} – {figures.range.end.toLocaleString()}
        </Text>
      )}
      <ErrorAlert error={error} testId="analytics-error" />
      {figures && (
        <>
          <FleetUptime uptime={figures.uptime} bucketMs={bucketMs} />
          <WorstCameras cameras={figures.uptime.cameras} coverage={figures.worstCoverage} />
          <SimpleGrid cols={{ base: 1, lg: 2 }}>
            <Coverage coverage={figures.coverage} />
            <ExportButtons analytics={analytics} range={figures.range} />
          </SimpleGrid>
        </>
      )}
      {abilities.can(Permission.ANALYTICS_READ) && (
        <Schedules analytics={analytics} canWrite={abilities.can(Permission.ANALYTICS_WRITE)} />
      )}
    </Stack>
  );
}
