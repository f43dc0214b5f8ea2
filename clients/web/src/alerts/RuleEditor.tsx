// Create or edit an alert rule: its condition kind with that kind's thresholds, severity, labels,
// the cameras/nodes it looks at (match_labels), for / keep firing for / cooldown, enabled; beside
// the form, the live preview of what it would fire for now.
import { useMemo, useState, type FormEvent } from "react";
import {
  Grid,
  Group,
  Modal,
  Select,
  Stack,
  Switch,
  Text,
  TextInput,
  Textarea,
} from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { AlertRule, AlertSeverity } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { useApi } from "../auth/AuthContext";
import { notifyDone } from "../components/feedback";
import { EditorFooter } from "./EditorFooter";
import { ConditionFields } from "./ConditionFields";
import { SEVERITY_OPTIONS } from "./format";
import { RulePreview } from "./RulePreview";
import {
  CONDITION_KINDS,
  RULE_UPDATE_PATHS,
  draftToRule,
  newRuleDraft,
  ruleToDraft,
  type ConditionKind,
  type RuleDraft,
} from "./rules";

export function RuleEditor({
  rule: existing,
  onClose,
  onSaved,
}: {
  rule: AlertRule | null;
  onClose(): void;
  onSaved(): void;
}) {
  const api = useApi();
  const [draft, setDraft] = useState<RuleDraft>(() =>
    existing ? ruleToDraft(existing) : newRuleDraft(),
  );
  const set = (patch: Partial<RuleDraft>) => setDraft((d) => ({ ...d, ...patch }));
  const { rule, errors } = useMemo(() => draftToRule(draft, existing?.id ?? ""), [draft, existing]);
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (errors.length) return;
    setBusy(true);
    setError(null);
    try {
      if (existing)
        await api.alerts.updateAlertRule({
          rule,
          updateMask: create(FieldMaskSchema, { paths: RULE_UPDATE_PATHS }),
        });
      else await api.alerts.createAlertRule({ rule });
      notifyDone(`Rule ${rule.name} ${existing ? "saved" : "created"}.`);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const about = CONDITION_KINDS.find((k) => k.value === draft.kind)?.about;
  return (
    <Modal
      opened
      onClose={onClose}
      title={existing ? `Rule ${existing.name}` : "New alert rule"}
      size="90%"
    >
      <Grid>
        <Grid.Col span={{ base: 12, md: 7 }}>
          <form onSubmit={(e) => void submit(e)} data-testid="rule-form">
            <Stack>
              <Group grow align="flex-start">
                <TextInput
                  label="Name"
                  required
                  value={draft.name}
                  onChange={(e) => set({ name: e.currentTarget.value })}
                  data-testid="rule-name"
                />
                <Select
                  label="Severity"
                  data={SEVERITY_OPTIONS}
                  value={String(draft.severity)}
                  onChange={(v) => v && set({ severity: Number(v) as AlertSeverity })}
                  allowDeselect={false}
                  data-testid="rule-severity"
                />
              </Group>
              <TextInput
                label="Description"
                value={draft.description}
                onChange={(e) => set({ description: e.currentTarget.value })}
              />
              <Select
                label="Condition"
                description={about}
                data={CONDITION_KINDS.map(({ value, label }) => ({ value, label }))}
                value={draft.kind}
                onChange={(v) => v && set({ kind: v as ConditionKind })}
                allowDeselect={false}
                data-testid="rule-kind"
              />
              <ConditionFields draft={draft} set={set} />
              <Group align="flex-start">
                <TextInput
                  label="For"
                  description="Pending period (0 to 1d)"
                  value={draft.for}
                  onChange={(e) => set({ for: e.currentTarget.value })}
                  data-testid="rule-for"
                  w={160}
                />
                <TextInput
                  label="Keep firing for"
                  description="After it clears"
                  value={draft.keepFiringFor}
                  onChange={(e) => set({ keepFiringFor: e.currentTarget.value })}
                  data-testid="rule-keep-firing"
                  w={160}
                />
                <TextInput
                  label="Cooldown"
                  description="No re-notify within"
                  value={draft.cooldown}
                  onChange={(e) => set({ cooldown: e.currentTarget.value })}
                  data-testid="rule-cooldown"
                  w={160}
                />
              </Group>
              <Group grow align="flex-start">
                <Textarea
                  label="Only for"
                  description="Cameras (or nodes) with these labels; key=value a line; empty: all"
                  value={draft.matchLabels}
                  onChange={(e) => set({ matchLabels: e.currentTarget.value })}
                  autosize
                  minRows={2}
                  data-testid="rule-match-labels"
                />
                <Textarea
                  label="Labels"
                  description="Added to its alerts (routing and silences match them)"
                  value={draft.labels}
                  onChange={(e) => set({ labels: e.currentTarget.value })}
                  autosize
                  minRows={2}
                  data-testid="rule-labels"
                />
              </Group>
              <Switch
                label="Enabled"
                checked={draft.enabled}
                onChange={(e) => set({ enabled: e.currentTarget.checked })}
                data-testid="rule-enabled"
              />
              <EditorFooter
                what="rule"
                existing={Boolean(existing)}
                checked={checked}
                errors={errors}
                error={error}
                busy={busy}
                onClose={onClose}
              />
            </Stack>
          </form>
        </Grid.Col>
        <Grid.Col span={{ base: 12, md: 5 }}>
          <RulePreview rule={rule} problems={errors} />
          <Text size="xs" c="dimmed" mt="xs">
            Durations: 30s, 5m, 1h30m, 1d.
          </Text>
        </Grid.Col>
      </Grid>
    </Modal>
  );
}
