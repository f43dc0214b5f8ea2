// Who changed a settings group, when, and each field before → after (secrets only as "(set)",
// "(changed)" or "(cleared)": the server never says more).
import { useCallback, useEffect, useState } from "react";
import { Button, Card, Code, Stack, Table, Text, Title } from "@mantine/core";
import type {
  SettingsChange,
  SettingsGroup,
} from "@camfleet/client/gen/camfleet/v1/settings_pb.js";
import { useLatest } from "../api/latest";
import { ErrorAlert } from "../components/feedback";
import { formatTime } from "../format";
import type { SettingsClient } from "./client";

export function History({
  client,
  group,
  revision,
}: {
  client: SettingsClient;
  group: SettingsGroup;
  /** Changes when the group is saved: the list is read again. */
  revision: string;
}) {
  const [changes, setChanges] = useState<SettingsChange[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState<unknown>(null);
  const latest = useLatest();

  const load = useCallback(
    async (pageToken: string) => {
      const newest = latest.begin();
      try {
        const r = await client.listSettingsHistory({ group, pageSize: 20, pageToken });
        if (!newest()) return;
        setChanges((prev) => (pageToken ? [...(prev ?? []), ...r.changes] : r.changes));
        setNext(r.nextPageToken);
        setError(null);
      } catch (err) {
        if (newest()) setError(err);
      }
    },
    [client, group, latest],
  );
  useEffect(() => void load(""), [load, revision]);

  return (
    <Card withBorder>
      <Title order={4} mb="sm">
        History
      </Title>
      <ErrorAlert error={error} testId="settings-history-error" />
      {changes?.length === 0 && (
        <Text size="sm" c="dimmed">
          Not changed since the first start.
        </Text>
      )}
      {changes && changes.length > 0 && (
        <Table data-testid="settings-history">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>When</Table.Th>
              <Table.Th>Who</Table.Th>
              <Table.Th>Version</Table.Th>
              <Table.Th>Changes</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {changes.map((c) => (
              <Table.Tr
                key={String(c.version)}
                data-testid="settings-history-row"
                data-version={String(c.version)}
              >
                <Table.Td>{formatTime(c.changeTime)}</Table.Td>
                <Table.Td>{c.actor}</Table.Td>
                <Table.Td>{String(c.version)}</Table.Td>
                <Table.Td>
                  <Stack gap={2}>
                    {c.fields.map((f) => (
                      <Text size="sm" key={f.field} data-testid="settings-history-field">
                        <Code>{f.field}</Code> {f.before || "(empty)"} → {f.after || "(empty)"}
                      </Text>
                    ))}
                  </Stack>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      {next && (
        <Button variant="subtle" size="xs" mt="xs" onClick={() => void load(next)}>
          Older changes
        </Button>
      )}
    </Card>
  );
}
