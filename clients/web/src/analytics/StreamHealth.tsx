// A camera's stream over the last hour or day, from the nodes' reports: bitrate and frame rate
// (average and the bucket's lowest) and the most viewers at once. A bucket without reports is
// a gap in the lines, not a zero.
import { useEffect, useState } from "react";
import { Card, Group, SegmentedControl, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { LineChart } from "@mantine/charts";
import type { GetStreamHealthResponse } from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { ErrorAlert } from "../components/feedback";
import { useAnalytics } from "./client";
import { healthRows, timeRange } from "./format";

const SPANS = { hour: 3_600_000, day: 86_400_000 } as const;
type Span = keyof typeof SPANS;

export function StreamHealth({ cameraId }: { cameraId: string }) {
  const analytics = useAnalytics();
  const [span, setSpan] = useState<Span>("hour");
  const [health, setHealth] = useState<GetStreamHealthResponse | null>(null);
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    let current = true;
    const end = Math.floor(Date.now() / 1000) * 1000;
    analytics
      .getStreamHealth({
        cameraId,
        range: timeRange({ start: new Date(end - SPANS[span]), end: new Date(end) }),
      })
      .then((r) => {
        if (!current) return;
        setHealth(r);
        setError(null);
      })
      .catch((err) => current && setError(err));
    return () => {
      current = false;
    };
  }, [analytics, cameraId, span]);

  const rows = health ? healthRows(health) : [];
  const reported = health?.points.some((p) => p.samples > 0) ?? false;
  const chart = (
    title: string,
    unit: string,
    series: { name: string; label: string; color: string }[],
    testId: string,
  ) => (
    <Stack gap={4}>
      <Text size="sm" fw={500}>
        {title}
      </Text>
      <LineChart
        h={160}
        data={rows}
        dataKey="at"
        unit={unit}
        series={series}
        // Dots: a bucket between two without reports is otherwise no line at all.
        dotProps={{ r: 2 }}
        connectNulls={false}
        curveType="linear"
        data-testid={testId}
      />
    </Stack>
  );

  return (
    <Card withBorder data-testid="stream-health">
      <Group justify="space-between" mb="sm">
        <Title order={4}>Stream health</Title>
        <SegmentedControl
          size="xs"
          value={span}
          onChange={(v) => setSpan(v as Span)}
          data={[
            { value: "hour", label: "Last hour" },
            { value: "day", label: "Last day" },
          ]}
          data-testid="stream-health-span"
        />
      </Group>
      <ErrorAlert error={error} testId="stream-health-error" />
      {health && !reported && (
        <Text size="sm" c="dimmed" data-testid="stream-health-empty">
          No node reported this stream in that time.
        </Text>
      )}
      {health && reported && (
        <SimpleGrid cols={{ base: 1, md: 3 }}>
          {chart(
            "Bitrate",
            " kbit/s",
            [
              { name: "bitrate", label: "Average", color: "indigo.6" },
              { name: "bitrateMin", label: "Lowest", color: "orange.6" },
            ],
            "bitrate-chart",
          )}
          {chart(
            "Frame rate",
            " fps",
            [
              { name: "fps", label: "Average", color: "teal.6" },
              { name: "fpsMin", label: "Lowest", color: "orange.6" },
            ],
            "fps-chart",
          )}
          {chart(
            "Viewers",
            "",
            [{ name: "viewers", label: "Most at once", color: "grape.6" }],
            "viewers-chart",
          )}
        </SimpleGrid>
      )}
    </Card>
  );
}
