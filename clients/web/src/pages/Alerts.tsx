// Alerts: firing, pending and resolved (tabs, each with its count), newest first, kept current
// by WatchEvents' ALERT_CHANGED; acknowledge and silence from each alert.
import { useCallback, useState } from "react";
import { Badge, Button, Group, Stack, Tabs, Text, Title } from "@mantine/core";
import { useSearchParams } from "react-router";
import type { Alert } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useLatest } from "../api/latest";
import { useApi, useAuth } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";
import { AlertItem } from "../alerts/AlertItem";
import { AlertsNav } from "../alerts/AlertsNav";
import { useThrottledReload } from "../alerts/FiringCount";
import { alertTabFilter, type AlertTab } from "../alerts/format";
import { useFleet } from "../watch/FleetContext";

const TABS: AlertTab[] = ["firing", "pending", "resolved"];
const PAGE = 100;

export default function AlertsPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const canEdit = abilities.can(Permission.ALERTS_WRITE);
  const { alertVersion } = useFleet();
  const [params, setParams] = useSearchParams();
  const tab = (TABS as string[]).includes(params.get("state") ?? "")
    ? (params.get("state") as AlertTab)
    : "firing";
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [next, setNext] = useState("");
  const [counts, setCounts] = useState<Partial<Record<AlertTab, number>>>({});
  const [error, setError] = useState<unknown>(null);
  const [bump, setBump] = useState(0);

  const latest = useLatest();

  const load = useCallback(
    async (pageToken = "") => {
      const newest = latest.begin();
      try {
        const [list, ...totals] = await Promise.all([
          api.alerts.listAlerts({ filter: alertTabFilter(tab), pageSize: PAGE, pageToken }),
          ...TABS.map((t) => api.alerts.listAlerts({ filter: alertTabFilter(t), pageSize: 1 })),
        ]);
        if (!newest()) return;
        setAlerts((prev) => (pageToken ? [...prev, ...list.alerts] : list.alerts));
        setNext(list.nextPageToken);
        setCounts(Object.fromEntries(TABS.map((t, i) => [t, totals[i].totalSize])));
        setError(null);
      } catch (err) {
        if (newest()) setError(err);
      }
    },
    [api, tab, latest],
  );
  const reload = useCallback(() => void load(), [load]);
  useThrottledReload(reload, `${alertVersion}.${bump}`);

  return (
    <Stack>
      <AlertsNav />
      <Group justify="space-between">
        <Title order={2}>Alerts</Title>
        <Button variant="default" size="xs" onClick={() => setBump((b) => b + 1)}>
          Refresh
        </Button>
      </Group>
      <Tabs
        value={tab}
        onChange={(v) => v && setParams(v === "firing" ? {} : { state: v }, { replace: true })}
      >
        <Tabs.List>
          {TABS.map((t) => (
            <Tabs.Tab
              key={t}
              value={t}
              data-testid={`alerts-state-${t}`}
              rightSection={
                counts[t] !== undefined ? (
                  <Badge
                    size="sm"
                    variant={t === "firing" && counts[t] ? "filled" : "light"}
                    color={t === "firing" && counts[t] ? "red" : "gray"}
                    data-testid={`alerts-count-${t}`}
                  >
                    {counts[t]}
                  </Badge>
                ) : undefined
              }
            >
              {t[0].toUpperCase() + t.slice(1)}
            </Tabs.Tab>
          ))}
        </Tabs.List>
      </Tabs>
      <ErrorAlert error={error} />
      <Stack gap="xs" data-testid="alert-list">
        {!error && alerts.length === 0 && (
          <Text c="dimmed" data-testid="alerts-empty">
            {tab === "firing"
              ? "Nothing is firing."
              : tab === "pending"
                ? "Nothing is pending."
                : "No alert has resolved yet."}
          </Text>
        )}
        {alerts.map((a) => (
          <AlertItem key={a.id} alert={a} canEdit={canEdit} onChanged={reload} />
        ))}
      </Stack>
      {next && (
        <Button variant="default" onClick={() => void load(next)}>
          Show more
        </Button>
      )}
    </Stack>
  );
}
