// Storage per node: pick a node (?node=ID from a link), read its disk forecast and what it
// wrote over a range. The forecast's write rate is measured over the last 24 hours (the
// server's default window), whatever range the chart shows.
import { useEffect, useMemo, useState } from "react";
import { Group, Select, Stack, Text, Title } from "@mantine/core";
import { useSearchParams } from "react-router";
import type { NodeForecast } from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { useAnalytics } from "../analytics/client";
import { NodeStorage } from "../analytics/NodeStorage";
import { RangePicker } from "../analytics/RangePicker";
import { presetRange, type Range } from "../analytics/format";
import { ErrorAlert } from "../components/feedback";

export default function StoragePage() {
  const analytics = useAnalytics();
  const [params, setParams] = useSearchParams();
  const [forecasts, setForecasts] = useState<NodeForecast[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [range, setRange] = useState<Range>(() => presetRange("24h", Date.now()));

  useEffect(() => {
    analytics
      .getStorageForecast({})
      .then((r) => {
        setForecasts(r.nodes);
        setError(null);
      })
      .catch(setError);
  }, [analytics, range]);

  const nodes = useMemo(() => {
    const byId = new Map<string, string>();
    for (const f of forecasts ?? []) byId.set(f.nodeId, f.nodeName || f.nodeId);
    return [...byId].map(([value, label]) => ({ value, label }));
  }, [forecasts]);
  const nodeId = params.get("node") ?? nodes[0]?.value ?? null;

  return (
    <Stack data-testid="storage-page">
      <Group justify="space-between" align="flex-end">
        <Group align="flex-end">
          <Title order={2}>Storage</Title>
          <Select
            label="Node"
            data={nodes}
            value={nodeId}
            onChange={(v) => v && setParams({ node: v })}
            allowDeselect={false}
            data-testid="storage-node"
          />
        </Group>
        <RangePicker value={range} onChange={setRange} />
      </Group>
      <ErrorAlert error={error} testId="forecast-error" />
      {forecasts?.length === 0 && <Text c="dimmed">No node has reported its disks yet.</Text>}
      {forecasts && nodeId && (
        <NodeStorage
          analytics={analytics}
          nodeId={nodeId}
          forecasts={forecasts.filter((f) => f.nodeId === nodeId)}
          range={range}
        />
      )}
    </Stack>
  );
}
