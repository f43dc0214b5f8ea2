// Alert rules: list (kind, thresholds, severity, enabled), create and edit in the editor with its
// live preview, enable/disable in place, delete (its open alerts resolve).
import { useCallback, useEffect, useState } from "react";
import { Badge, Button, Group, Menu, Stack, Switch, Table, Text, Title } from "@mantine/core";
import { modals } from "@mantine/modals";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { AlertRuleSchema, type AlertRule } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { attempt, ErrorAlert } from "../components/feedback";
import { AlertsNav } from "../alerts/AlertsNav";
import { severityColor, severityLabel } from "../alerts/format";
import { RuleEditor } from "../alerts/RuleEditor";
import { conditionLabel, describeRule } from "../alerts/rules";
import { describeLabels } from "../fleet/labels";

export default function AlertRulesPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const canEdit = abilities.can(Permission.ALERTS_WRITE);
  const [rules, setRules] = useState<AlertRule[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState<AlertRule | "new" | null>(null);

  const reload = useCallback(async () => {
    try {
      const out: AlertRule[] = [];
      let pageToken = "";
      do {
        const r = await api.alerts.listAlertRules({ pageSize: 500, pageToken });
        out.push(...r.rules);
        pageToken = r.nextPageToken;
      } while (pageToken);
      setRules(out.sort((a, b) => a.name.localeCompare(b.name)));
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [api]);
  useEffect(() => {
    void reload();
  }, [reload]);

  const setEnabled = (r: AlertRule, enabled: boolean) =>
    void attempt(
      async () => {
        await api.alerts.updateAlertRule({
          rule: create(AlertRuleSchema, { id: r.id, enabled }),
          updateMask: create(FieldMaskSchema, { paths: ["enabled"] }),
        });
        await reload();
      },
      `${r.name} ${enabled ? "enabled" : "disabled"}.`,
    );

  const remove = (r: AlertRule) =>
    modals.openConfirmModal({
      title: `Delete rule ${r.name}?`,
      children: (
        <Text size="sm">
          Its open alerts resolve (firing ones send their resolved notifications).
        </Text>
      ),
      labels: { confirm: "Delete", cancel: "Cancel" },
      confirmProps: { color: "red" },
      onConfirm: () =>
        void attempt(async () => {
          await api.alerts.deleteAlertRule({ id: r.id });
          await reload();
        }, `Rule ${r.name} deleted.`),
    });

  return (
    <Stack>
      <AlertsNav />
      <Group justify="space-between">
        <Title order={2}>Alert rules</Title>
        {canEdit && (
          <Button onClick={() => setEditing("new")} data-testid="rule-new">
            New rule
          </Button>
        )}
      </Group>
      <ErrorAlert error={error} />
      <Table data-testid="rule-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Condition</Table.Th>
            <Table.Th>Thresholds</Table.Th>
            <Table.Th>Severity</Table.Th>
            <Table.Th>Only for</Table.Th>
            <Table.Th>Enabled</Table.Th>
            {canEdit && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {!error && rules.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={7}>
                <Text c="dimmed">No rules yet: nothing raises alerts.</Text>
              </Table.Td>
            </Table.Tr>
          )}
          {rules.map((r) => (
            <Table.Tr key={r.id} data-testid="rule-row" data-name={r.name}>
              <Table.Td>
                <Text size="sm" fw={500}>
                  {r.name}
                </Text>
                {r.description && (
                  <Text size="xs" c="dimmed">
                    {r.description}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>{conditionLabel(r.condition?.kind.case)}</Table.Td>
              <Table.Td>
                <Text size="sm">{describeRule(r)}</Text>
              </Table.Td>
              <Table.Td>
                <Badge color={severityColor(r.severity)}>{severityLabel(r.severity)}</Badge>
              </Table.Td>
              <Table.Td>
                <Text size="xs">{describeLabels(r.matchLabels) || "all"}</Text>
              </Table.Td>
              <Table.Td>
                {canEdit ? (
                  <Switch
                    checked={r.enabled}
                    onChange={(e) => setEnabled(r, e.currentTarget.checked)}
                    data-testid="rule-row-enabled"
                  />
                ) : r.enabled ? (
                  "yes"
                ) : (
                  "no"
                )}
              </Table.Td>
              {canEdit && (
                <Table.Td>
                  <Menu position="bottom-end">
                    <Menu.Target>
                      <Button size="xs" variant="subtle" data-testid="rule-actions">
                        Actions
                      </Button>
                    </Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item onClick={() => setEditing(r)} data-testid="rule-edit">
                        Edit
                      </Menu.Item>
                      <Menu.Item color="red" onClick={() => remove(r)} data-testid="rule-delete">
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
        <RuleEditor
          rule={editing === "new" ? null : editing}
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
