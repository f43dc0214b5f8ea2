// Notification channels: webhook, email, SMS. Each with its health (paused with the reason and a
// Resume button; failing since; last delivery), Send test, its delivery log, edit and delete.
// A webhook's generated signing secret is shown once, after create.
import { useCallback, useEffect, useState } from "react";
import {
  Alert,
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Menu,
  Modal,
  Stack,
  Table,
  Text,
  Title,
} from "@mantine/core";
import { modals } from "@mantine/modals";
import type { Channel } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { attempt, ErrorAlert } from "../components/feedback";
import { AlertsNav } from "../alerts/AlertsNav";
import { ChannelEditor } from "../alerts/ChannelEditor";
import { channelTarget } from "../alerts/channels";
import { DeliveryLog } from "../alerts/DeliveryLog";
import { formatAgo, formatTime } from "../format";

const KIND_LABEL = { webhook: "Webhook", email: "Email", sms: "SMS" } as const;

function Health({ c, canEdit, onResume }: { c: Channel; canEdit: boolean; onResume(): void }) {
  if (c.paused)
    return (
      <Alert color="red" variant="light" p="xs" data-testid="channel-paused">
        <Stack gap={4}>
          <Text size="sm" fw={600}>
            Paused {c.pauseTime ? formatAgo(c.pauseTime) : ""}
          </Text>
          <Text size="xs">{c.pauseReason || "It failed for too long."}</Text>
          <Text size="xs" c="dimmed">
            Its notifications wait until it is resumed.
          </Text>
          {canEdit && (
            <Button size="xs" color="red" onClick={onResume} data-testid="channel-resume">
              Resume
            </Button>
          )}
        </Stack>
      </Alert>
    );
  return (
    <Stack gap={2}>
      {c.consecutiveFailures > 0 ? (
        <Badge color="orange" variant="light" tt="none" data-testid="channel-failing">
          failing: {c.consecutiveFailures} in a row
        </Badge>
      ) : c.lastSuccessTime ? (
        <Badge color="teal" variant="light" tt="none" data-testid="channel-ok">
          ok
        </Badge>
      ) : (
        <Badge color="gray" variant="light" tt="none" data-testid="channel-unused">
          nothing sent yet
        </Badge>
      )}
      {c.lastError && c.consecutiveFailures > 0 && (
        <Text size="xs" c="red">
          {c.lastError}
        </Text>
      )}
      {c.lastSuccessTime && (
        <Text size="xs" c="dimmed">
          last delivered {formatAgo(c.lastSuccessTime)}
        </Text>
      )}
    </Stack>
  );
}

export default function AlertChannelsPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const canEdit = abilities.can(Permission.ALERTS_WRITE);
  const [channels, setChannels] = useState<Channel[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<Channel | "new" | null>(null);
  const [logOf, setLogOf] = useState<Channel | null>(null);
  const [secret, setSecret] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      const r = await api.alerts.listChannels({ pageSize: 1000 });
      setChannels([...r.channels].sort((a, b) => a.name.localeCompare(b.name)));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [api]);
  useEffect(() => {
    void reload();
  }, [reload]);

  const remove = (c: Channel) =>
    modals.openConfirmModal({
      title: `Delete channel ${c.name}?`,
      children: <Text size="sm">Policies stop sending to it; its delivery log goes with it.</Text>,
      labels: { confirm: "Delete", cancel: "Cancel" },
      confirmProps: { color: "red" },
      onConfirm: () =>
        void attempt(async () => {
          await api.alerts.deleteChannel({ id: c.id });
          await reload();
        }, `Channel ${c.name} deleted.`),
    });

  return (
    <Stack>
      <AlertsNav />
      <Group justify="space-between">
        <Title order={2}>Channels</Title>
        {canEdit && (
          <Button onClick={() => setEditing("new")} data-testid="channel-new">
            New channel
          </Button>
        )}
      </Group>
      <ErrorAlert error={error} />
      <Table data-testid="channel-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Delivers to</Table.Th>
            <Table.Th>Secret</Table.Th>
            <Table.Th>Health</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {!error && channels.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={6}>
                <Text c="dimmed">No channels yet: alerts reach nobody.</Text>
              </Table.Td>
            </Table.Tr>
          )}
          {channels.map((c) => (
            <Table.Tr
              key={c.id}
              data-testid="channel-row"
              data-name={c.name}
              data-paused={c.paused}
            >
              <Table.Td>
                <Text size="sm" fw={500}>
                  {c.name}
                </Text>
                <Text size="xs" c="dimmed">
                  since {formatTime(c.createTime)}
                </Text>
              </Table.Td>
              <Table.Td>{c.config.case ? KIND_LABEL[c.config.case] : "—"}</Table.Td>
              <Table.Td>
                <Text size="sm" style={{ wordBreak: "break-all" }}>
                  {channelTarget(c)}
                </Text>
              </Table.Td>
              <Table.Td>
                {c.secretSet ? (
                  <Badge variant="outline" color="gray" data-testid="channel-secret-set">
                    set
                  </Badge>
                ) : (
                  <Text size="xs" c="dimmed">
                    none
                  </Text>
                )}
              </Table.Td>
              <Table.Td maw={320}>
                <Health
                  c={c}
                  canEdit={canEdit}
                  onResume={() =>
                    void attempt(async () => {
                      await api.alerts.resumeChannel({ id: c.id });
                      await reload();
                    }, `${c.name} resumed: its waiting notifications go out.`)
                  }
                />
              </Table.Td>
              <Table.Td>
                <Group gap="xs" wrap="nowrap">
                  {canEdit && (
                    <Button
                      size="xs"
                      variant="light"
                      data-testid="channel-test"
                      onClick={() =>
                        void attempt(async () => {
                          await api.alerts.testChannel({ id: c.id });
                          setLogOf(c);
                        }, `Test notification queued on ${c.name}.`)
                      }
                    >
                      Send test
                    </Button>
                  )}
                  <Button
                    size="xs"
                    variant="default"
                    data-testid="channel-log"
                    onClick={() => setLogOf(c)}
                  >
                    Delivery log
                  </Button>
                  {canEdit && (
                    <Menu position="bottom-end">
                      <Menu.Target>
                        <Button size="xs" variant="subtle" data-testid="channel-actions">
                          More
                        </Button>
                      </Menu.Target>
                      <Menu.Dropdown>
                        <Menu.Item onClick={() => setEditing(c)} data-testid="channel-edit">
                          Edit
                        </Menu.Item>
                        <Menu.Item
                          color="red"
                          onClick={() => remove(c)}
                          data-testid="channel-delete"
                        >
                          Delete
                        </Menu.Item>
                      </Menu.Dropdown>
                    </Menu>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {editing && (
        <ChannelEditor
          channel={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={(generated) => {
            setEditing(null);
            if (generated) setSecret(generated);
            void reload();
          }}
        />
      )}
      {logOf && (
        <DeliveryLog
          channel={logOf}
          onClose={() => {
            setLogOf(null);
            void reload(); // its health may have changed meanwhile
          }}
        />
      )}
      <Modal
        opened={secret !== null}
        onClose={() => setSecret(null)}
        title="The webhook's signing secret"
        size="lg"
        closeOnClickOutside={false}
      >
        <Stack>
          <Text size="sm" fw={500}>
            Copy it now into the receiver: it is shown only once. Receivers verify the
            webhook-signature header with it (Standard Webhooks).
          </Text>
          <Code block data-testid="channel-generated-secret">
            {secret}
          </Code>
          <CopyButton value={secret ?? ""}>
            {({ copied, copy }) => <Button onClick={copy}>{copied ? "Copied" : "Copy"}</Button>}
          </CopyButton>
        </Stack>
      </Modal>
    </Stack>
  );
}
