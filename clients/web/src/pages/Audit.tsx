// The audit log with filters (actor, action, outcome, time range), newest first, paged.
import { useCallback, useEffect, useMemo, useState } from "react";
import { Badge, Button, Group, Select, Stack, Table, Text, TextInput, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import type { AuditLog } from "@camfleet/client/gen/camfleet/v1/audit_pb.js";
import { useApi } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";
import { formatTime } from "../format";
import { auditFilter, type AuditFilters } from "../audit/filter";

const OUTCOME_COLOR: Record<string, string> = { success: "teal", failure: "orange", denied: "red" };

export default function AuditPage() {
  const api = useApi();
  const [filters, setFilters] = useState<AuditFilters>({});
  const [debounced] = useDebouncedValue(filters, 300);
  const filter = useMemo(() => auditFilter(debounced), [debounced]);
  const [logs, setLogs] = useState<AuditLog[]>([]);
  const [next, setNext] = useState("");
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<unknown>(null);

  const load = useCallback(
    async (pageToken = "") => {
      try {
        const r = await api.audit.listAuditLogs({
          filter,
          pageSize: 100,
          pageToken,
          orderBy: "time desc",
        });
        setLogs((prev) => (pageToken ? [...prev, ...r.auditLogs] : r.auditLogs));
        setNext(r.nextPageToken);
        setTotal(r.totalSize);
        setError(null);
      } catch (err) {
        setError(err);
      }
    },
    [api, filter],
  );
  useEffect(() => {
    void load();
  }, [load]);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>
          Audit log{" "}
          <Text span c="dimmed" size="sm">
            {total}
          </Text>
        </Title>
        <Button variant="default" size="xs" onClick={() => void load()}>
          Refresh
        </Button>
      </Group>
      <Group>
        <TextInput
          label="Actor"
          placeholder="username"
          value={filters.actor ?? ""}
          onChange={(e) => setFilters({ ...filters, actor: e.currentTarget.value })}
          data-testid="audit-actor"
        />
        <TextInput
          label="Action"
          placeholder="camera.* or auth.login_failed"
          value={filters.action ?? ""}
          onChange={(e) => setFilters({ ...filters, action: e.currentTarget.value })}
          data-testid="audit-action"
        />
        <Select
          label="Outcome"
          clearable
          w={140}
          data={["success", "failure", "denied"]}
          value={filters.outcome ?? null}
          onChange={(v) => setFilters({ ...filters, outcome: v })}
          data-testid="audit-outcome"
        />
        <TextInput
          label="From"
          type="datetime-local"
          value={filters.from ?? ""}
          onChange={(e) => setFilters({ ...filters, from: e.currentTarget.value })}
        />
        <TextInput
          label="To"
          type="datetime-local"
          value={filters.to ?? ""}
          onChange={(e) => setFilters({ ...filters, to: e.currentTarget.value })}
        />
      </Group>
      <ErrorAlert error={error} />
      <Table data-testid="audit-table" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Time</Table.Th>
            <Table.Th>Actor</Table.Th>
            <Table.Th>Action</Table.Th>
            <Table.Th>Target</Table.Th>
            <Table.Th>Outcome</Table.Th>
            <Table.Th>From</Table.Th>
            <Table.Th>Details</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {logs.map((l) => (
            <Table.Tr
              key={l.id}
              data-testid="audit-row"
              data-action={l.action}
              data-outcome={l.outcome}
            >
              <Table.Td style={{ whiteSpace: "nowrap" }}>{formatTime(l.time)}</Table.Td>
              <Table.Td>{l.actor}</Table.Td>
              <Table.Td>{l.action}</Table.Td>
              <Table.Td>{l.target}</Table.Td>
              <Table.Td>
                <Badge color={OUTCOME_COLOR[l.outcome] ?? "gray"}>{l.outcome}</Badge>
              </Table.Td>
              <Table.Td>{l.sourceAddress}</Table.Td>
              <Table.Td>
                <Text size="xs">
                  {Object.entries(l.details)
                    .map(([k, v]) => `${k}: ${v}`)
                    .join("; ")}
                </Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {next && (
        <Button variant="light" onClick={() => void load(next)}>
          Load more
        </Button>
      )}
    </Stack>
  );
}
