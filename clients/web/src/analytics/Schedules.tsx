// Scheduled reports: each mails a report of the last day or week to an e-mail channel's
// recipients. Listed for everyone who reads analytics; created, run now, paused or deleted by
// those who may write it.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import {
  Badge,
  Button,
  Card,
  Group,
  Menu,
  Modal,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import {
  ReportFormat,
  ReportKind,
  ReportPeriod,
  type ReportSchedule,
} from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import type { Channel } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { describeError } from "../api/errors";
import { useApi } from "../auth/AuthContext";
import { attempt, ErrorAlert, notifyDone } from "../components/feedback";
import { formatTime } from "../format";
import type { AnalyticsClient } from "./client";

const KIND_LABEL: Record<number, string> = {
  [ReportKind.CAMERA_PERFORMANCE]: "Camera performance",
  [ReportKind.STORAGE]: "Storage",
};
const FORMAT_LABEL: Record<number, string> = {
  [ReportFormat.CSV]: "CSV",
  [ReportFormat.XLSX]: "XLSX",
  [ReportFormat.PDF]: "PDF",
};
const PERIOD_LABEL: Record<number, string> = {
  [ReportPeriod.DAILY]: "Daily",
  [ReportPeriod.WEEKLY]: "Weekly (Mondays)",
};
const options = (labels: Record<number, string>) =>
  Object.entries(labels).map(([value, label]) => ({ value, label }));

function NewSchedule({
  analytics,
  channels,
  onClose,
  onSaved,
}: {
  analytics: AnalyticsClient;
  channels: Channel[];
  onClose(): void;
  onSaved(): void;
}) {
  const [name, setName] = useState("");
  const [kind, setKind] = useState(String(ReportKind.CAMERA_PERFORMANCE));
  const [format, setFormat] = useState(String(ReportFormat.PDF));
  const [period, setPeriod] = useState(String(ReportPeriod.WEEKLY));
  const [channelId, setChannelId] = useState<string | null>(channels[0]?.id ?? null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const violations = error ? describeError(error).violations : [];
  const at = (f: string) => violations.find((v) => v.field.endsWith(f))?.description;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await analytics.createReportSchedule({
        schedule: {
          name: name.trim(),
          kind: Number(kind),
          format: Number(format),
          period: Number(period),
          channelId: channelId ?? "",
          enabled: true,
        },
      });
      notifyDone(`Schedule ${name.trim()} created.`);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title="New scheduled report">
      <form onSubmit={(e) => void submit(e)} data-testid="schedule-form">
        <Stack>
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={at("name")}
            data-testid="schedule-name"
          />
          <Select
            label="Report"
            data={options(KIND_LABEL)}
            value={kind}
            onChange={(v) => v && setKind(v)}
            allowDeselect={false}
          />
          <Select
            label="Format"
            data={options(FORMAT_LABEL)}
            value={format}
            onChange={(v) => v && setFormat(v)}
            allowDeselect={false}
          />
          <Select
            label="Every"
            data={options(PERIOD_LABEL)}
            value={period}
            onChange={(v) => v && setPeriod(v)}
            allowDeselect={false}
          />
          <Select
            label="Mail to (e-mail channel)"
            data={channels.map((c) => ({ value: c.id, label: c.name }))}
            value={channelId}
            onChange={(v) => v && setChannelId(v)}
            // Choosing the channel already chosen must not clear it.
            allowDeselect={false}
            error={at("channel_id")}
            description={
              channels.length
                ? undefined
                : "No e-mail channel exists: create one under Alerts → Channels."
            }
            data-testid="schedule-channel"
          />
          <ErrorAlert error={error} testId="schedule-error" />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} data-testid="schedule-save">
              Create schedule
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export function Schedules({
  analytics,
  canWrite,
}: {
  analytics: AnalyticsClient;
  canWrite: boolean;
}) {
  const api = useApi();
  const [schedules, setSchedules] = useState<ReportSchedule[] | null>(null);
  const [channels, setChannels] = useState<Channel[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);

  const reload = useCallback(async () => {
    try {
      setSchedules((await analytics.listReportSchedules({})).schedules);
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [analytics]);
  useEffect(() => void reload(), [reload]);
  // Channel names for the list; someone who may not read alerting sees the channel's id.
  useEffect(() => {
    api.alerts
      .listChannels({ pageSize: 1000 })
      .then((r) => setChannels(r.channels.filter((c) => c.config.case === "email")))
      .catch(() => undefined);
  }, [api]);

  const openNew = async () => {
    try {
      const all = (await api.alerts.listChannels({ pageSize: 1000 })).channels;
      setChannels(all.filter((c) => c.config.case === "email"));
      setCreating(true);
    } catch (err) {
      setError(err);
    }
  };
  const channelName = (id: string) => channels.find((c) => c.id === id)?.name ?? id;
  const update = (s: ReportSchedule, enabled: boolean) =>
    analytics.updateReportSchedule({
      schedule: { id: s.id, enabled },
      updateMask: create(FieldMaskSchema, { paths: ["enabled"] }),
    });

  return (
    <Card withBorder>
      <Group justify="space-between" mb="sm">
        <Title order={4}>Scheduled reports</Title>
        {canWrite && (
          <Button size="xs" onClick={() => void openNew()} data-testid="schedule-new">
            New schedule
          </Button>
        )}
      </Group>
      <ErrorAlert error={error} testId="schedules-error" />
      <Table data-testid="schedules">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Report</Table.Th>
            <Table.Th>Every</Table.Th>
            <Table.Th>Channel</Table.Th>
            <Table.Th>Last run</Table.Th>
            <Table.Th>Next run</Table.Th>
            {canWrite && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {schedules?.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={7}>
                <Text size="sm" c="dimmed">
                  No scheduled reports.
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
          {schedules?.map((s) => (
            <Table.Tr key={s.id} data-testid="schedule-row" data-name={s.name}>
              <Table.Td>
                {s.name} {!s.enabled && <Badge color="gray">paused</Badge>}
              </Table.Td>
              <Table.Td>
                {KIND_LABEL[s.kind] ?? "?"} · {FORMAT_LABEL[s.format] ?? "?"}
              </Table.Td>
              <Table.Td>{PERIOD_LABEL[s.period] ?? "?"}</Table.Td>
              <Table.Td>{channelName(s.channelId)}</Table.Td>
              <Table.Td>
                {formatTime(s.lastRunTime)}
                {s.lastError && (
                  <Text size="xs" c="red" data-testid="schedule-last-error">
                    {s.lastError}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>{formatTime(s.nextRunTime)}</Table.Td>
              {canWrite && (
                <Table.Td>
                  <Menu>
                    <Menu.Target>
                      <Button size="xs" variant="subtle">
                        …
                      </Button>
                    </Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item
                        onClick={() =>
                          void attempt(
                            () => analytics.runReportSchedule({ id: s.id }).then(reload),
                            `${s.name}: report sent.`,
                          )
                        }
                      >
                        Send now
                      </Menu.Item>
                      <Menu.Item
                        onClick={() => void attempt(() => update(s, !s.enabled).then(reload))}
                      >
                        {s.enabled ? "Pause" : "Resume"}
                      </Menu.Item>
                      <Menu.Item
                        color="red"
                        onClick={() =>
                          void attempt(
                            () => analytics.deleteReportSchedule({ id: s.id }).then(reload),
                            `${s.name} deleted.`,
                          )
                        }
                      >
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
      {creating && (
        <NewSchedule
          analytics={analytics}
          channels={channels}
          onClose={() => setCreating(false)}
          onSaved={() => {
            setCreating(false);
            void reload();
          }}
        />
      )}
    </Card>
  );
}
