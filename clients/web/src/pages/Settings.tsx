// The platform's settings, one page per group (/settings/<group>, tabs between them): the form
// and the group's history. Admins only (settings.read to see, settings.write to change); anyone
// else opening a link reads the server's refusal.
import { useCallback, useEffect, useState } from "react";
import { Stack, Tabs, Title } from "@mantine/core";
import { Navigate, useNavigate, useParams } from "react-router";
import type { Settings } from "@camfleet/client/gen/camfleet/v1/settings_pb.js";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useLatest } from "../api/latest";
import { useAuth } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";
import { useSettingsClient } from "../settings/client";
import { GROUPS, groupSpec } from "../settings/groups";
import { History } from "../settings/History";
import { SettingsForm } from "../settings/SettingsForm";

export default function SettingsPage() {
  const { group } = useParams();
  const navigate = useNavigate();
  const client = useSettingsClient();
  const { abilities } = useAuth();
  const spec = groupSpec(group);
  const [settings, setSettings] = useState<Settings | null>(null);
  const [error, setError] = useState<unknown>(null);
  // A fresh form (its draft read from the stored values) after every read.
  const [reads, setReads] = useState(0);
  const latest = useLatest();

  const read = useCallback(async () => {
    if (!spec) return;
    const newest = latest.begin();
    try {
      const r = await client.getSettings({ group: spec.group });
      if (!newest()) return;
      setSettings(r.settings ?? null);
      setReads((n) => n + 1);
      setError(null);
    } catch (err) {
      if (!newest()) return;
      setSettings(null);
      setError(err);
    }
  }, [client, spec, latest]);
  useEffect(() => void read(), [read]);

  if (!spec) return <Navigate to="/settings/streaming" replace />;
  const values = settings?.[spec.name];

  return (
    <Stack data-testid="settings-page">
      <Title order={2}>Settings</Title>
      <Tabs value={spec.name} onChange={(v) => v && navigate(`/settings/${v}`)} variant="outline">
        <Tabs.List>
          {GROUPS.map((g) => (
            <Tabs.Tab key={g.name} value={g.name} data-testid={`settings-tab-${g.name}`}>
              {g.title}
            </Tabs.Tab>
          ))}
        </Tabs.List>
      </Tabs>
      <ErrorAlert error={error} testId="settings-read-error" />
      {values && (
        <SettingsForm
          key={`${spec.name}-${reads}`}
          spec={spec}
          values={values as unknown as Record<string, unknown>}
          canWrite={abilities.can(Permission.SETTINGS_WRITE)}
          client={client}
          onSaved={() => void read()}
          onReload={() => void read()}
        />
      )}
      {values && (
        <History
          client={client}
          group={spec.group}
          revision={String(values.revision?.version ?? 0n)}
        />
      )}
    </Stack>
  );
}
