// Silences: active, pending (maintenance windows) and expired, with their matchers, window,
// comment and author and how many alerts they mute now; create one, expire one now.
import { useCallback, useEffect, useState } from "react";
import { Badge, Button, Group, SegmentedControl, Stack, Table, Text, Title } from "@mantine/core";
import { SilenceState, type Silence } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { attempt, ErrorAlert } from "../components/feedback";
import { AlertsNav } from "../alerts/AlertsNav";
import { matcherText, silenceStateColor, silenceStateLabel } from "../alerts/format";
import { SilenceDialog } from "../alerts/SilenceDialog";
import { formatTime } from "../format";

type Shown = "current" | "expired" | "all";
const FILTER: Record<Shown, string> = {
  current: "state = ACTIVE OR state = PENDING",
  expired: "state = EXPIRED",
  all: "",
};

export default function SilencesPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const canEdit = abilities.can(Permission.ALERTS_WRITE);
  const [shown, setShown] = useState<Shown>("current");
  const [silences, setSilences] = useState<Silence[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);

  const reload = useCallback(async () => {
    try {
      const r = await api.alerts.listSilences({ filter: FILTER[shown], pageSize: 500 });
      setSilences(r.silences);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [api, shown]);
  useEffect(() => {
    void reload();
  }, [reload]);

  return (
    <Stack>
      <AlertsNav />
      <Group justify="space-between">
        <Title order={2}>Silences</Title>
        {canEdit && (
          <Button onClick={() => setCreating(true)} data-testid="silence-new">
            New silence
          </Button>
        )}
      </Group>
      <SegmentedControl
        value={shown}
        onChange={(v) => setShown(v as Shown)}
        data={[
          { value: "current", label: "Active and upcoming" },
          { value: "expired", label: "Expired" },
          { value: "all", label: "All" },
        ]}
        w={420}
      />
      <ErrorAlert error={error} />
      <Table data-testid="silence-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>State</Table.Th>
            <Table.Th>Matchers</Table.Th>
            <Table.Th>From</Table.Th>
            <Table.Th>Until</Table.Th>
            <Table.Th>Comment</Table.Th>
            <Table.Th>Mutes</Table.Th>
            {canEdit && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {!error && silences.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={7}>
                <Text c="dimmed">No silences here.</Text>
              </Table.Td>
            </Table.Tr>
          )}
          {silences.map((s) => (
            <Table.Tr key={s.id} data-testid="silence-row" data-state={silenceStateLabel(s.state)}>
              <Table.Td>
                <Badge color={silenceStateColor(s.state)} style={{ minWidth: "max-content" }}>
                  {silenceStateLabel(s.state)}
                </Badge>
              </Table.Td>
              <Table.Td>
                <Group gap={4}>
                  {s.matchers.map((m, i) => (
                    <Badge key={i} size="xs" variant="outline" color="gray" tt="none">
                      {matcherText(m)}
                    </Badge>
                  ))}
                </Group>
              </Table.Td>
              <Table.Td>{formatTime(s.startTime)}</Table.Td>
              <Table.Td>{formatTime(s.endTime)}</Table.Td>
              <Table.Td>
                <Text size="sm">{s.comment}</Text>
                <Text size="xs" c="dimmed">
                  {s.author}
                </Text>
              </Table.Td>
              <Table.Td>
                {s.state === SilenceState.EXPIRED
                  ? "—"
                  : `${s.matchedAlerts} alert${s.matchedAlerts === 1 ? "" : "s"}`}
              </Table.Td>
              {canEdit && (
                <Table.Td>
                  {s.state !== SilenceState.EXPIRED && (
                    <Button
                      size="xs"
                      variant="subtle"
                      color="red"
                      data-testid="silence-expire"
                      onClick={() =>
                        void attempt(async () => {
                          await api.alerts.expireSilence({ id: s.id });
                          await reload();
                        }, "Silence ended.")
                      }
                    >
                      Expire now
                    </Button>
                  )}
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {creating && (
        <SilenceDialog
          title="New silence"
          matchers={[]}
          onClose={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            void reload();
          }}
        />
      )}
    </Stack>
  );
}
