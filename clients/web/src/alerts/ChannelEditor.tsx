// Create or edit a channel: webhook (URL, signing secret, timeout), email (SMTP server, security,
// login, from, to, snapshot) or SMS (Twilio-compatible or Kannel). Secrets are write-only: the
// inputs start empty, say "set" when one is stored, and an empty one keeps it.
import { useState, type FormEvent } from "react";
import {
  Group,
  Modal,
  NumberInput,
  PasswordInput,
  SegmentedControl,
  Select,
  Stack,
  Switch,
  TextInput,
  Textarea,
} from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import {
  EmailConfig_Security,
  SmsConfig_Provider,
  type Channel,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { useApi } from "../auth/AuthContext";
import { notifyDone } from "../components/feedback";
import { EditorFooter } from "./EditorFooter";
import {
  channelToDraft,
  draftToChannel,
  newChannelDraft,
  type ChannelDraft,
  type ChannelKind,
} from "./channels";

function Secret({
  label,
  stored,
  value,
  onChange,
  createHint,
  testId,
}: {
  label: string;
  stored: boolean;
  value: string;
  onChange(v: string): void;
  createHint?: string;
  testId: string;
}) {
  return (
    <PasswordInput
      label={label}
      description={stored ? "Stored: leave empty to keep it, or type a new one" : createHint}
      placeholder={stored ? "set" : ""}
      value={value}
      onChange={(e) => onChange(e.currentTarget.value)}
      autoComplete="new-password"
      data-testid={testId}
      data-stored={stored}
    />
  );
}

export function ChannelEditor({
  channel: existing,
  onClose,
  onSaved,
}: {
  channel: Channel | null;
  onClose(): void;
  /** generatedSecret: a webhook's signing secret the server made, to show once. */
  onSaved(generatedSecret: string): void;
}) {
  const api = useApi();
  const [d, setDraft] = useState<ChannelDraft>(() =>
    existing ? channelToDraft(existing) : newChannelDraft(),
  );
  const set = (patch: Partial<ChannelDraft>) => setDraft((x) => ({ ...x, ...patch }));
  const stored = !!existing?.secretSet;
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { channel, errors } = draftToChannel(d, existing?.id ?? "");

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (errors.length) return;
    setBusy(true);
    setError(null);
    try {
      let secret = "";
      if (existing)
        await api.alerts.updateChannel({
          channel,
          updateMask: create(FieldMaskSchema, { paths: ["name", d.kind] }),
        });
      else secret = (await api.alerts.createChannel({ channel })).generatedSecret;
      notifyDone(`Channel ${channel.name} ${existing ? "saved" : "created"}.`);
      onSaved(secret);
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
      title={existing ? `Channel ${existing.name}` : "New channel"}
      size="lg"
    >
      <form onSubmit={(e) => void submit(e)} data-testid="channel-form">
        <Stack>
          <TextInput
            label="Name"
            required
            value={d.name}
            onChange={(e) => set({ name: e.currentTarget.value })}
            data-testid="channel-name"
          />
          {!existing && (
            <SegmentedControl
              value={d.kind}
              onChange={(v) => set({ kind: v as ChannelKind })}
              data={[
                { value: "webhook", label: "Webhook" },
                { value: "email", label: "Email" },
                { value: "sms", label: "SMS" },
              ]}
              data-testid="channel-kind"
            />
          )}
          {d.kind === "webhook" && (
            <>
              <TextInput
                label="URL"
                description="http:// or https://; signed per Standard Webhooks"
                placeholder="https://example.org/hooks/camfleet"
                value={d.url}
                onChange={(e) => set({ url: e.currentTarget.value })}
                data-testid="channel-url"
              />
              <Secret
                label="Signing secret"
                stored={stored}
                value={d.secret}
                onChange={(v) => set({ secret: v })}
                createHint="Empty: one is generated and shown once (whsec_…)"
                testId="channel-secret"
              />
              <TextInput
                label="Timeout"
                description="Up to 60s"
                value={d.timeout}
                onChange={(e) => set({ timeout: e.currentTarget.value })}
                w={160}
              />
            </>
          )}
          {d.kind === "email" && (
            <>
              <Group grow align="flex-start">
                <TextInput
                  label="SMTP server"
                  value={d.smtpHost}
                  onChange={(e) => set({ smtpHost: e.currentTarget.value })}
                  data-testid="channel-smtp-host"
                />
                <NumberInput
                  label="Port"
                  description="Empty: 587 / 465 / 25"
                  value={d.smtpPort}
                  onChange={(v) => set({ smtpPort: v })}
                  min={1}
                  max={65535}
                  data-testid="channel-smtp-port"
                />
                <Select
                  label="Security"
                  data={[
                    { value: String(EmailConfig_Security.STARTTLS), label: "STARTTLS" },
                    { value: String(EmailConfig_Security.TLS), label: "TLS (implicit)" },
                    { value: String(EmailConfig_Security.NONE), label: "None (local relay)" },
                  ]}
                  value={String(d.security)}
                  onChange={(v) => v && set({ security: Number(v) as EmailConfig_Security })}
                  allowDeselect={false}
                />
              </Group>
              <Group grow align="flex-start">
                <TextInput
                  label="Username"
                  value={d.username}
                  onChange={(e) => set({ username: e.currentTarget.value })}
                />
                <Secret
                  label="Password"
                  stored={stored}
                  value={d.password}
                  onChange={(v) => set({ password: v })}
                  testId="channel-password"
                />
              </Group>
              <TextInput
                label="From"
                value={d.from}
                onChange={(e) => set({ from: e.currentTarget.value })}
                data-testid="channel-from"
              />
              <Textarea
                label="To"
                description="1–20 addresses, one a line or comma separated"
                value={d.to}
                onChange={(e) => set({ to: e.currentTarget.value })}
                autosize
                data-testid="channel-to"
              />
              <Switch
                label="Attach a snapshot of the camera when it is live"
                checked={d.attachSnapshot}
                onChange={(e) => set({ attachSnapshot: e.currentTarget.checked })}
              />
            </>
          )}
          {d.kind === "sms" && (
            <>
              <Select
                label="Provider"
                data={[
                  { value: String(SmsConfig_Provider.TWILIO), label: "Twilio-compatible REST API" },
                  { value: String(SmsConfig_Provider.KANNEL), label: "Kannel sendsms" },
                ]}
                value={String(d.provider)}
                onChange={(v) => v && set({ provider: Number(v) as SmsConfig_Provider })}
                allowDeselect={false}
                data-testid="channel-sms-provider"
              />
              <TextInput
                label="Provider URL"
                placeholder={
                  d.provider === SmsConfig_Provider.KANNEL
                    ? "http://127.0.0.1:13013/cgi-bin/sendsms"
                    : "https://api.twilio.com"
                }
                value={d.smsUrl}
                onChange={(e) => set({ smsUrl: e.currentTarget.value })}
                data-testid="channel-sms-url"
              />
              <Group grow align="flex-start">
                <TextInput
                  label={d.provider === SmsConfig_Provider.KANNEL ? "Username" : "Account SID"}
                  value={d.account}
                  onChange={(e) => set({ account: e.currentTarget.value })}
                  data-testid="channel-sms-account"
                />
                <Secret
                  label={d.provider === SmsConfig_Provider.KANNEL ? "Password" : "Auth token"}
                  stored={stored}
                  value={d.token}
                  onChange={(v) => set({ token: v })}
                  testId="channel-token"
                />
              </Group>
              <TextInput
                label="From"
                value={d.smsFrom}
                onChange={(e) => set({ smsFrom: e.currentTarget.value })}
                data-testid="channel-sms-from"
              />
              <Textarea
                label="To"
                description="1–20 numbers, one a line or comma separated"
                value={d.smsTo}
                onChange={(e) => set({ smsTo: e.currentTarget.value })}
                autosize
                data-testid="channel-sms-to"
              />
            </>
          )}
          <EditorFooter
            what="channel"
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
