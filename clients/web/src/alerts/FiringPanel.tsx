// The dashboard's view of alerting: how many alerts fire now and the most severe of them, live
// (re-read on ALERT_CHANGED from the shared fleet feed), each linking to the alerts page.
import { useCallback, useState } from "react";
import { Anchor, Badge, Card, Group, Stack, Text, Title } from "@mantine/core";
import { Link } from "react-router";
import type { Alert } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { useApi } from "../auth/AuthContext";
import { isUnimplemented } from "../api/errors";
import { ErrorAlert } from "../components/feedback";
import { formatAgo } from "../format";
import { useFleet } from "../watch/FleetContext";
import { useFiringCount, useThrottledReload } from "./FiringCount";
import { FIRING_FILTER, severityColor, severityLabel } from "./format";

const SHOWN = 5;

export function FiringPanel() {
  const api = useApi();
  const firing = useFiringCount();
  const { alertVersion } = useFleet();
  const [alerts, setAlerts] = useState<Alert[]>([]);
  const [error, setError] = useState<unknown>(null);
  const load = useCallback(() => {
    api.alerts
      .listAlerts({ filter: FIRING_FILTER, orderBy: "severity desc", pageSize: SHOWN })
      .then((r) => {
        setAlerts(r.alerts);
        setError(null);
      }, setError);
  }, [api]);
  useThrottledReload(load, alertVersion);
  // A control plane without alerting yet: the dashboard shows the rest, without an error.
  if (error && isUnimplemented(error)) return null;

  return (
    <Card withBorder data-testid="dashboard-alerts">
      <Group justify="space-between" mb="xs">
        <Title order={4}>
          Firing alerts{" "}
          <Text span c={firing ? "red" : "dimmed"} fw={700} data-testid="count-firing">
            {firing ?? "—"}
          </Text>
        </Title>
        <Anchor component={Link} to="/alerts" size="sm">
          All alerts
        </Anchor>
      </Group>
      <ErrorAlert error={error} testId="dashboard-alerts-error" />
      <Stack gap={4}>
        {!error && alerts.length === 0 && (
          <Text c="dimmed" size="sm">
            Nothing is firing.
          </Text>
        )}
        {alerts.map((a) => (
          <Group key={a.id} gap="sm" wrap="nowrap" data-testid="dashboard-alert">
            <Badge
              color={severityColor(a.severity)}
              variant="light"
              miw={90}
              style={{ flexShrink: 0, minWidth: "max-content" }}
            >
              {severityLabel(a.severity)}
            </Badge>
            <Text size="sm" style={{ flex: 1 }}>
              {a.summary}
            </Text>
            <Text size="xs" c="dimmed">
              {formatAgo(a.firingTime)}
            </Text>
          </Group>
        ))}
      </Stack>
    </Card>
  );
}
