// A channel's delivery log: its notifications (status, attempts, next try) and every attempt
// (time, outcome, latency, response or error), newest first, re-read every few seconds while open
// (delivery runs in the background; a test send shows up here within moments).
import { useCallback, useEffect, useState } from "react";
import { Badge, Button, Drawer, Group, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import type {
  Channel,
  DeliveryAttempt,
  Notification,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { useApi } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";
import { formatAgo, formatTime } from "../format";
import {
  notificationKindLabel,
  notificationStatusColor,
  notificationStatusLabel,
} from "./channels";
import { equals, fromDuration } from "./format";

const POLL_MS = 2000;
const PAGE = 50;

export function DeliveryLog({ channel, onClose }: { channel: Channel; onClose(): void }) {
  const api = useApi();
  const [notifications, setNotifications] = useState<Notification[]>([]);
  const [attempts, setAttempts] = useState<DeliveryAttempt[]>([]);
  const [totals, setTotals] = useState({ notifications: 0, attempts: 0 });
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(async () => {
    try {
      const filter = equals("channel_id", channel.id);
      const [n, a] = await Promise.all([
        api.alerts.listNotifications({ filter, pageSize: PAGE }),
        api.alerts.listDeliveryAttempts({ filter, pageSize: PAGE }),
      ]);
      setNotifications(n.notifications);
      setAttempts(a.attempts);
      setTotals({ notifications: n.totalSize, attempts: a.totalSize });
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [api, channel.id]);
  useEffect(() => {
    void load();
    const t = window.setInterval(() => {
      if (document.visibilityState === "visible") void load();
    }, POLL_MS);
    return () => window.clearInterval(t);
  }, [load]);

  return (
    <Drawer
      opened
      onClose={onClose}
      position="right"
      size="xl"
      title={`Delivery log of ${channel.name}`}
    >
      <Stack data-testid="delivery-log">
        <Group justify="flex-end">
          <Button size="xs" variant="default" onClick={() => void load()}>
            Refresh
          </Button>
        </Group>
        <ErrorAlert error={error} testId="delivery-log-error" />
        <Title order={5}>Notifications ({totals.notifications})</Title>
        <Table data-testid="notification-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Created</Table.Th>
              <Table.Th>Kind</Table.Th>
              <Table.Th>Summary</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>Attempts</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {notifications.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={5}>
                  <Text c="dimmed" size="sm">
                    Nothing sent on this channel yet.
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
            {notifications.map((n) => (
              <Table.Tr
                key={n.id}
                data-testid="notification-row"
                data-kind={notificationKindLabel(n.kind)}
                data-status={notificationStatusLabel(n.status)}
              >
                <Table.Td>
                  <Tooltip label={`${formatTime(n.createTime)} · id ${n.id}`}>
                    <span>{formatAgo(n.createTime)}</span>
                  </Tooltip>
                </Table.Td>
                <Table.Td>{notificationKindLabel(n.kind)}</Table.Td>
                <Table.Td>
                  <Text size="sm">{n.summary}</Text>
                  {n.lastError && (
                    <Text size="xs" c="red">
                      {n.lastError}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Text size="sm" fw={600} c={notificationStatusColor(n.status)}>
                    {notificationStatusLabel(n.status)}
                  </Text>
                  {n.nextAttemptTime && !n.deliveredTime && (
                    <Text size="xs" c="dimmed">
                      next try {formatTime(n.nextAttemptTime)}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{n.attempts}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        <Title order={5}>Attempts ({totals.attempts})</Title>
        <Table data-testid="attempt-table">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Time</Table.Th>
              <Table.Th>Outcome</Table.Th>
              <Table.Th>Latency</Table.Th>
              <Table.Th>Response or error</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {attempts.length === 0 && (
              <Table.Tr>
                <Table.Td colSpan={4}>
                  <Text c="dimmed" size="sm">
                    No attempt yet.
                  </Text>
                </Table.Td>
              </Table.Tr>
            )}
            {attempts.map((a) => (
              <Table.Tr key={a.id} data-testid="attempt-row" data-ok={a.ok}>
                <Table.Td>{formatTime(a.time)}</Table.Td>
                <Table.Td>
                  <Badge
                    color={a.ok ? "teal" : "red"}
                    variant="light"
                    style={{ flexShrink: 0, minWidth: "max-content" }}
                  >
                    {a.ok ? "ok" : "failed"}
                    {a.responseCode ? ` ${a.responseCode}` : ""}
                  </Badge>
                </Table.Td>
                <Table.Td>{Math.round(fromDuration(a.latency) * 1000)} ms</Table.Td>
                <Table.Td>
                  <Text size="xs" style={{ wordBreak: "break-word" }}>
                    {a.error || a.response || "—"}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </Stack>
    </Drawer>
  );
}
