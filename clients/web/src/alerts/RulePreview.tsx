// The rule editor's live preview: PreviewAlertRule on the form as it stands (debounced), what
// the rule would fire for right now. Nothing is stored.
import { useEffect, useRef, useState } from "react";
import { Badge, Card, Group, Loader, Stack, Text, Title } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import {
  AlertState,
  type AlertRule,
  type PreviewAlertRuleResponse,
} from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { useApi } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";
import { formatAgo } from "../format";
import { alertStateLabel, labelsForDisplay } from "./format";

export const PREVIEW_DEBOUNCE_MS = 500;

export function RulePreview({ rule, problems }: { rule: AlertRule; problems: string[] }) {
  const api = useApi();
  // `rule` is memoized by the editor on its form state: a new object only when the form changed.
  const [debounced] = useDebouncedValue(problems.length ? null : rule, PREVIEW_DEBOUNCE_MS);
  const [result, setResult] = useState<PreviewAlertRuleResponse | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // Which condition kind the shown answer is for, and how it went (tests wait on it).
  const [answered, setAnswered] = useState<{ kind: string; ok: boolean } | null>(null);
  const seq = useRef(0);

  useEffect(() => {
    if (!debounced) return;
    const mine = ++seq.current;
    const kind = debounced.condition?.kind.case ?? "";
    setBusy(true);
    api.alerts.previewAlertRule({ rule: debounced }).then(
      (r) => {
        if (mine !== seq.current) return;
        setResult(r);
        setError(null);
        setBusy(false);
        setAnswered({ kind, ok: true });
      },
      (err) => {
        if (mine !== seq.current) return;
        setError(err);
        setBusy(false);
        setAnswered({ kind, ok: false });
      },
    );
  }, [api, debounced]);

  const firing = result?.alerts.filter((a) => a.state === AlertState.FIRING).length ?? 0;
  return (
    <Card
      withBorder
      data-testid="rule-preview"
      data-answered={answered?.kind}
      data-outcome={answered ? (answered.ok ? "ok" : "error") : undefined}
    >
      <Group justify="space-between" mb="xs">
        <Title order={5}>Preview: right now</Title>
        {busy && <Loader size="xs" />}
      </Group>
      {problems.length > 0 ? (
        <Text size="sm" c="dimmed" data-testid="rule-preview-waiting">
          The preview runs once the form is complete: {problems[0]}
        </Text>
      ) : (
        <>
          <ErrorAlert error={error} testId="rule-preview-error" />
          {result && !error && (
            <Stack gap="xs">
              <Text size="sm" data-testid="rule-preview-count">
                {result.alerts.length === 0
                  ? `Would fire for nothing (${result.evaluated} checked).`
                  : `${result.alerts.length} would alert (${firing} firing, ${result.alerts.length - firing} pending) of ${result.evaluated} checked.`}
              </Text>
              {result.alerts.slice(0, 50).map((a, i) => (
                <Group
                  key={i}
                  gap="xs"
                  wrap="nowrap"
                  align="flex-start"
                  data-testid="rule-preview-alert"
                >
                  <Badge
                    size="sm"
                    color={a.state === AlertState.FIRING ? "red" : "yellow"}
                    variant="light"
                    miw={80}
                    style={{ flexShrink: 0, minWidth: "max-content" }}
                  >
                    {alertStateLabel(a.state)}
                  </Badge>
                  <Stack gap={0}>
                    <Text size="sm">{a.summary}</Text>
                    <Text size="xs" c="dimmed">
                      {labelsForDisplay(a.labels)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(" · ")}
                      {a.activeTime ? ` · since ${formatAgo(a.activeTime)}` : ""}
                    </Text>
                  </Stack>
                </Group>
              ))}
              {result.alerts.length > 50 && (
                <Text size="xs" c="dimmed">
                  … and {result.alerts.length - 50} more.
                </Text>
              )}
            </Stack>
          )}
        </>
      )}
    </Card>
  );
}
