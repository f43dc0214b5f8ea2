// Notification policies, in the order they are tried: what they match, where they send, how
// they group and time notifications.
import { useCallback, useEffect, useState } from "react";
import { Badge, Button, Group, Menu, Stack, Table, Text, Title } from "@mantine/core";
import { modals } from "@mantine/modals";
import type { Channel, NotificationPolicy } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { attempt, ErrorAlert } from "../components/feedback";
import { AlertsNav } from "../alerts/AlertsNav";
import { durationText, matcherText, severityColor, severityLabel } from "../alerts/format";
import { PolicyEditor } from "../alerts/PolicyEditor";

export default function AlertPoliciesPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const canEdit = abilities.can(Permission.ALERTS_WRITE);
  const [policies, setPolicies] = useState<NotificationPolicy[]>([]);
  const [channels, setChannels] = useState<Channel[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<NotificationPolicy | "new" | null>(null);

  const reload = useCallback(async () => {
    try {
      const [p, c] = await Promise.all([
        api.alerts.listNotificationPolicies({ pageSize: 1000 }),
        api.alerts.listChannels({ pageSize: 1000 }),
      ]);
      setPolicies(
        [...p.policies].sort((a, b) => a.order - b.order || a.name.localeCompare(b.name)),
      );
      setChannels([...c.channels].sort((a, b) => a.name.localeCompare(b.name)));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [api]);
  useEffect(() => {
    void reload();
  }, [reload]);

  const channelName = (id: string) => channels.find((c) => c.id === id)?.name ?? id;

  const remove = (p: NotificationPolicy) =>
    modals.openConfirmModal({
      title: `Delete policy ${p.name}?`,
      children: <Text size="sm">Alerts it routed go to the other matching policies only.</Text>,
      labels: { confirm: "Delete", cancel: "Cancel" },
      confirmProps: { color: "red" },
      onConfirm: () =>
        void attempt(async () => {
          await api.alerts.deleteNotificationPolicy({ id: p.id });
          await reload();
        }, `Policy ${p.name} deleted.`),
    });

  return (
    <Stack>
      <AlertsNav />
      <Group justify="space-between">
        <Title order={2}>Notification policies</Title>
        {canEdit && (
          <Button onClick={() => setEditing("new")} data-testid="policy-new">
            New policy
          </Button>
        )}
      </Group>
      <ErrorAlert error={error} />
      <Table data-testid="policy-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Order</Table.Th>
            <Table.Th>Name</Table.Th>
            <Table.Th>Matches</Table.Th>
            <Table.Th>Channels</Table.Th>
            <Table.Th>Grouping</Table.Th>
            {canEdit && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {!error && policies.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={6}>
                <Text c="dimmed">No policies yet: alerts are listed but notify nobody.</Text>
              </Table.Td>
            </Table.Tr>
          )}
          {policies.map((p) => (
            <Table.Tr key={p.id} data-testid="policy-row" data-name={p.name}>
              <Table.Td>{p.order}</Table.Td>
              <Table.Td>
                <Text size="sm" fw={500}>
                  {p.name}
                </Text>
                {p.stop && (
                  <Badge size="xs" variant="outline">
                    stop
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>
                <Group gap={4}>
                  {p.matchers.length === 0 && p.severities.length === 0 && (
                    <Text size="xs">every alert</Text>
                  )}
                  {p.matchers.map((m, i) => (
                    <Badge key={i} size="xs" variant="outline" color="gray" tt="none">
                      {matcherText(m)}
                    </Badge>
                  ))}
                  {p.severities.map((s) => (
                    <Badge key={s} size="xs" color={severityColor(s)} variant="light">
                      {severityLabel(s)}
                    </Badge>
                  ))}
                </Group>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{p.channelIds.map(channelName).join(", ")}</Text>
              </Table.Td>
              <Table.Td>
                <Text size="xs">
                  by {p.groupBy.join(", ") || "rule, node"} · wait {durationText(p.groupWait)} ·
                  interval {durationText(p.groupInterval)} · repeat {durationText(p.repeatInterval)}
                  {p.sendResolved ? " · resolved too" : ""}
                </Text>
              </Table.Td>
              {canEdit && (
                <Table.Td>
                  <Menu position="bottom-end">
                    <Menu.Target>
                      <Button size="xs" variant="subtle" data-testid="policy-actions">
                        Actions
                      </Button>
                    </Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item onClick={() => setEditing(p)}>Edit</Menu.Item>
                      <Menu.Item color="red" onClick={() => remove(p)}>
                        Delete
                      </Menu.Item>
                    </Menu.Dropdown>
                  </Menu>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {editing && (
        <PolicyEditor
          policy={editing === "new" ? null : editing}
          channels={channels}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            void reload();
          }}
        />
      )}
    </Stack>
  );
}
