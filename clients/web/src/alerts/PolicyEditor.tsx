// Create or edit a notification policy: which alerts (matchers, severities) go to which channels,
// how they are grouped (group_by) and timed (group wait / interval / repeat), resolved or not.
import { useState, type FormEvent } from "react";
import {
  Group,
  Modal,
  MultiSelect,
  NumberInput,
  Stack,
  Switch,
  TagsInput,
  TextInput,
  Textarea,
} from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import type { Channel, NotificationPolicy } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { useApi } from "../auth/AuthContext";
import { notifyDone } from "../components/feedback";
import { EditorFooter } from "./EditorFooter";
import { SEVERITY_OPTIONS } from "./format";
import {
  POLICY_UPDATE_PATHS,
  draftToPolicy,
  newPolicyDraft,
  policyToDraft,
  type PolicyDraft,
} from "./policies";

export function PolicyEditor({
  policy: existing,
  channels,
  onClose,
  onSaved,
}: {
  policy: NotificationPolicy | null;
  channels: Channel[];
  onClose(): void;
  onSaved(): void;
}) {
  const api = useApi();
  const [d, setDraft] = useState<PolicyDraft>(() =>
    existing ? policyToDraft(existing) : newPolicyDraft(),
  );
  const set = (patch: Partial<PolicyDraft>) => setDraft((x) => ({ ...x, ...patch }));
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { policy, errors } = draftToPolicy(d, existing?.id ?? "");

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (errors.length) return;
    setBusy(true);
    setError(null);
    try {
      if (existing)
        await api.alerts.updateNotificationPolicy({
          policy,
          updateMask: create(FieldMaskSchema, { paths: POLICY_UPDATE_PATHS }),
        });
      else await api.alerts.createNotificationPolicy({ policy });
      notifyDone(`Policy ${policy.name} ${existing ? "saved" : "created"}.`);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      opened
      onClose={onClose}
      title={existing ? `Policy ${existing.name}` : "New notification policy"}
      size="lg"
    >
      <form onSubmit={(e) => void submit(e)} data-testid="policy-form">
        <Stack>
          <Group grow align="flex-start">
            <TextInput
              label="Name"
              required
              value={d.name}
              onChange={(e) => set({ name: e.currentTarget.value })}
              data-testid="policy-name"
            />
            <NumberInput
              label="Order"
              description="Lower is tried first"
              value={d.order}
              onChange={(v) => set({ order: v })}
            />
          </Group>
          <MultiSelect
            label="Channels"
            data={channels.map((c) => ({ value: c.id, label: c.name }))}
            value={d.channelIds}
            onChange={(v) => set({ channelIds: v })}
            searchable
            data-testid="policy-channels"
          />
          <Textarea
            label="Matchers"
            description="Alerts whose labels match all of these (name=value or name!=value, one a line); empty: every alert"
            value={d.matchers}
            onChange={(e) => set({ matchers: e.currentTarget.value })}
            autosize
            minRows={2}
            data-testid="policy-matchers"
          />
          <MultiSelect
            label="Severities"
            description="Empty: every severity"
            data={SEVERITY_OPTIONS}
            value={d.severities}
            onChange={(v) => set({ severities: v })}
            data-testid="policy-severities"
          />
          <TagsInput
            label="Group by"
            description="Alerts with equal values of these labels are notified together; “...”: each alert on its own"
            value={d.groupBy}
            onChange={(v) => set({ groupBy: v })}
            data-testid="policy-group-by"
          />
          <Group grow align="flex-start">
            <TextInput
              label="Group wait"
              description="Collect before the first notice"
              value={d.groupWait}
              onChange={(e) => set({ groupWait: e.currentTarget.value })}
              data-testid="policy-group-wait"
            />
            <TextInput
              label="Group interval"
              description="Before notifying additions"
              value={d.groupInterval}
              onChange={(e) => set({ groupInterval: e.currentTarget.value })}
              data-testid="policy-group-interval"
            />
            <TextInput
              label="Repeat interval"
              description="Remind while firing"
              value={d.repeatInterval}
              onChange={(e) => set({ repeatInterval: e.currentTarget.value })}
              data-testid="policy-repeat-interval"
            />
          </Group>
          <Group>
            <Switch
              label="Notify when resolved"
              checked={d.sendResolved}
              onChange={(e) => set({ sendResolved: e.currentTarget.checked })}
              data-testid="policy-send-resolved"
            />
            <Switch
              label="Stop at this policy"
              checked={d.stop}
              onChange={(e) => set({ stop: e.currentTarget.checked })}
            />
          </Group>
          <EditorFooter
            what="policy"
            existing={Boolean(existing)}
            checked={checked}
            errors={errors}
            error={error}
            busy={busy}
            onClose={onClose}
          />
        </Stack>
      </form>
    </Modal>
  );
}
