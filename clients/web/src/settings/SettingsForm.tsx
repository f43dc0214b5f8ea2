// One settings group as a form. Saving sends only the changed fields (their update_mask paths)
// and the version the form was read at; the server's field violations show at their fields; a
// change someone else made meanwhile is explained, with a button to read the group again.
// Secrets show only whether one is stored; typing replaces it, "Remove" clears it.
import { useState, type FormEvent } from "react";
import {
  Alert,
  Badge,
  Button,
  Checkbox,
  Group,
  List,
  NumberInput,
  PasswordInput,
  Select,
  Stack,
  Text,
  TextInput,
  Textarea,
} from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { SettingsRevision } from "@camfleet/client/gen/camfleet/v1/settings_pb.js";
import { describeError, errorDetails } from "../api/errors";
import { ErrorAlert, notifyDone } from "../components/feedback";
import { formatTime } from "../format";
import type { SettingsClient } from "./client";
import {
  toDraft,
  toUpdate,
  UNIT_LABEL,
  violationPath,
  type Draft,
  type Field,
  type GroupSpec,
} from "./groups";

/** The current version an ABORTED update reports, when it was a version conflict. */
function conflictVersion(err: unknown): string | null {
  const e = ConnectError.from(err);
  if (e.code !== Code.Aborted && e.code !== Code.FailedPrecondition) return null;
  const info = errorDetails(e).info;
  if (info?.reason !== "SETTINGS_VERSION_CONFLICT") return null;
  return info.metadata.current_version ?? "";
}

export function SettingsForm({
  spec,
  values,
  canWrite,
  client,
  onSaved,
  onReload,
}: {
  spec: GroupSpec;
  /** The group's message as read. */
  values: Record<string, unknown> & { revision?: SettingsRevision };
  canWrite: boolean;
  client: SettingsClient;
  onSaved(): void;
  onReload(): void;
}) {
  const before = toDraft(spec, values);
  const [draft, setDraft] = useState<Draft>(before);
  const [error, setError] = useState<unknown>(null);
  const [nothing, setNothing] = useState(false);
  const [busy, setBusy] = useState(false);
  const { values: changed, paths, problems } = toUpdate(spec, before, draft);
  const [checked, setChecked] = useState(false);
  const version = values.revision?.version ?? 0n;

  const violations = error ? describeError(error).violations : [];
  const serverAt = (path: string) =>
    violations
      .filter((v) => violationPath(spec, v.field) === path)
      .map((v) => v.description)
      .join(" ") || undefined;
  const unplaced = violations.filter((v) => !violationPath(spec, v.field));
  const conflict = error ? conflictVersion(error) : null;
  const problemAt = (path: string) => (checked ? problems[path] : undefined) ?? serverAt(path);

  const set = (path: string, value: string) => {
    setNothing(false);
    setDraft((d) => ({ ...d, [path]: value }));
  };

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (Object.keys(problems).length) return;
    if (paths.length === 0) {
      setNothing(true);
      return;
    }
    setBusy(true);
    setError(null);
    try {
      await client.updateSettings({
        group: { case: spec.name, value: changed },
        updateMask: create(FieldMaskSchema, { paths }),
        version,
      } as Parameters<SettingsClient["updateSettings"]>[0]);
      notifyDone(`${spec.title} settings saved.`);
      onSaved();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const input = (f: Field) => {
    const common = {
      label: f.label,
      description: f.help,
      disabled: !canWrite,
      error: problemAt(f.path),
      "data-testid": `setting-${f.path}`,
    };
    const value = draft[f.path] ?? "";
    switch (f.kind) {
      case "duration":
        return (
          <TextInput
            {...common}
            label={`${f.label} (${UNIT_LABEL[f.unit]})`}
            inputMode="decimal"
            value={value}
            onChange={(e) => set(f.path, e.currentTarget.value)}
          />
        );
      case "int":
      case "mib":
        return (
          <NumberInput
            {...common}
            value={value}
            onChange={(v) => set(f.path, String(v))}
            allowDecimal={f.kind === "mib"}
          />
        );
      case "enum":
        return (
          <Select
            {...common}
            data={f.options.map((o) => ({ value: String(o.value), label: o.label }))}
            value={value}
            onChange={(v) => v !== null && set(f.path, v)}
            allowDeselect={false}
          />
        );
      case "list":
        return (
          <Textarea
            {...common}
            autosize
            minRows={2}
            value={value}
            onChange={(e) => set(f.path, e.currentTarget.value)}
          />
        );
      case "secret": {
        const stored = Boolean(values[f.setKey]);
        const clearing = draft[f.clearPath] === "true";
        return (
          <Stack gap={4}>
            <Group gap="xs">
              <Text size="sm" fw={500}>
                {f.label}
              </Text>
              <Badge
                color={stored ? "teal" : "gray"}
                variant="light"
                data-testid={`setting-${f.path}-state`}
              >
                {stored ? "set" : "not set"}
              </Badge>
            </Group>
            <PasswordInput
              {...common}
              label={undefined}
              description={stored ? "Type a new one to replace it; empty keeps it." : undefined}
              placeholder={stored ? "set" : "not set"}
              autoComplete="new-password"
              disabled={!canWrite || clearing}
              value={value}
              onChange={(e) => set(f.path, e.currentTarget.value)}
            />
            {stored && canWrite && (
              <Checkbox
                label="Remove the stored one"
                checked={clearing}
                onChange={(e) => set(f.clearPath, e.currentTarget.checked ? "true" : "")}
                data-testid={`setting-${f.clearPath}`}
              />
            )}
          </Stack>
        );
      }
      default:
        return (
          <TextInput
            {...common}
            value={value}
            onChange={(e) => set(f.path, e.currentTarget.value)}
          />
        );
    }
  };

  return (
    <form onSubmit={(e) => void submit(e)} data-testid="settings-form" data-group={spec.name}>
      <Stack maw={640}>
        <Text size="sm" c="dimmed">
          {spec.about}
        </Text>
        <Text size="xs" c="dimmed" data-testid="settings-version" data-version={String(version)}>
          Version {String(version)}
          {values.revision?.updatedBy
            ? `, changed by ${values.revision.updatedBy} on ${formatTime(values.revision.updateTime)}`
            : ""}
        </Text>
        {spec.fields.map((f) => (
          <div key={f.path} data-testid={`field-${f.path}`}>
            {input(f)}
          </div>
        ))}
        {conflict !== null ? (
          <Alert color="orange" variant="light" role="alert" data-testid="settings-conflict">
            <Stack gap="xs">
              <Text size="sm">
                Someone else changed the {spec.title.toLowerCase()} settings after this page read
                them (they are now at version {conflict || "newer"}; this form was version{" "}
                {String(version)}). Nothing was saved. Reload to see their values, then make your
                change again.
              </Text>
              <Group>
                <Button size="xs" onClick={onReload} data-testid="settings-reload">
                  Reload
                </Button>
              </Group>
            </Stack>
          </Alert>
        ) : (
          violations.length === 0 && <ErrorAlert error={error} testId="settings-error" />
        )}
        {unplaced.length > 0 && (
          <Alert color="red" variant="light" data-testid="settings-error">
            <List size="sm">
              {unplaced.map((v) => (
                <List.Item key={`${v.field}:${v.description}`}>
                  {v.field ? `${v.field}: ` : ""}
                  {v.description}
                </List.Item>
              ))}
            </List>
          </Alert>
        )}
        {nothing && (
          <Text size="sm" c="dimmed" data-testid="settings-nothing">
            Nothing changed: there is nothing to save.
          </Text>
        )}
        {canWrite && (
          <Group justify="flex-end">
            <Button
              variant="default"
              onClick={() => {
                setDraft(before);
                setError(null);
                setChecked(false);
              }}
            >
              Undo changes
            </Button>
            <Button type="submit" loading={busy} data-testid="settings-save">
              Save {spec.title.toLowerCase()} settings
            </Button>
          </Group>
        )}
      </Stack>
    </form>
  );
}
