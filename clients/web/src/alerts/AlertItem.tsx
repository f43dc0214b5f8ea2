// One alert as the alerts page lists it: severity, summary, labels, since when, who acknowledged
// it (and why), whether a silence or a lost node mutes it; and, for people who may change alerts,
// acknowledge / unacknowledge and silence (for 1 h, or until a chosen time).
import { useState } from "react";
import {
  Badge,
  Button,
  Card,
  Group,
  Menu,
  Modal,
  Stack,
  Text,
  Textarea,
  Tooltip,
} from "@mantine/core";
import { AlertState, type Alert } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { useApi } from "../auth/AuthContext";
import { attempt } from "../components/feedback";
import { formatAgo, formatTime } from "../format";
import {
  alertStateLabel,
  identifyingLabels,
  labelsForDisplay,
  severityColor,
  severityLabel,
} from "./format";
import { equalMatchers } from "./matchers";
import { SilenceDialog, silenceFor } from "./SilenceDialog";

function since(a: Alert): { label: string; time: Alert["activeTime"] } {
  switch (a.state) {
    case AlertState.FIRING:
      return { label: "firing since", time: a.firingTime ?? a.activeTime };
    case AlertState.RESOLVED:
      return { label: "resolved", time: a.resolvedTime };
    default:
      return { label: "pending since", time: a.activeTime };
  }
}

function AckDialog({ alert, onClose, onDone }: { alert: Alert; onClose(): void; onDone(): void }) {
  const api = useApi();
  const [comment, setComment] = useState("");
  return (
    <Modal opened onClose={onClose} title="Acknowledge alert">
      <Stack>
        <Text size="sm">{alert.summary}</Text>
        <Text size="xs" c="dimmed">
          Acknowledging stops repeat notifications until the alert resolves.
        </Text>
        <Textarea
          label="Comment"
          placeholder="e.g. on it, camera being replaced"
          value={comment}
          onChange={(e) => setComment(e.currentTarget.value)}
          data-testid="ack-comment"
        />
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose}>
            Cancel
          </Button>
          <Button
            data-testid="ack-save"
            onClick={() =>
              void attempt(
                () => api.alerts.acknowledgeAlert({ id: alert.id, comment: comment.trim() }),
                "Alert acknowledged.",
              ).then((ok) => ok && onDone())
            }
          >
            Acknowledge
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

export function AlertItem({
  alert: a,
  canEdit,
  onChanged,
}: {
  alert: Alert;
  canEdit: boolean;
  onChanged(): void;
}) {
  const api = useApi();
  const [acking, setAcking] = useState(false);
  const [silencing, setSilencing] = useState(false);
  const when = since(a);
  const open = a.state !== AlertState.RESOLVED;
  const matchers = equalMatchers(identifyingLabels(a.labels));
  return (
    <Card
      withBorder
      padding="sm"
      data-testid="alert-row"
      data-rule={a.ruleName}
      data-state={alertStateLabel(a.state)}
      data-acknowledged={a.acknowledged}
      data-silenced={a.silencedBy.length > 0}
      data-inhibited={!!a.inhibitedBy}
    >
      <Group justify="space-between" wrap="nowrap" align="flex-start">
        <Stack gap={4} style={{ flex: 1 }}>
          <Group gap="xs">
            <Badge color={severityColor(a.severity)} data-testid="alert-severity">
              {severityLabel(a.severity)}
            </Badge>
            <Text fw={600} data-testid="alert-summary">
              {a.summary || a.ruleName}
            </Text>
          </Group>
          <Group gap={4}>
            <Text size="xs" c="dimmed">
              {a.ruleName} · {when.label}{" "}
              <Tooltip label={formatTime(when.time)}>
                <span data-testid="alert-since">{formatAgo(when.time)}</span>
              </Tooltip>
            </Text>
          </Group>
          <Group gap={4} data-testid="alert-labels">
            {labelsForDisplay(a.labels).map(([k, v]) => (
              <Badge key={k} size="xs" variant="outline" color="gray" tt="none">
                {k}={v}
              </Badge>
            ))}
          </Group>
          <Group gap="xs">
            {a.acknowledged && (
              <Badge color="teal" variant="light" data-testid="alert-acknowledged" tt="none">
                acknowledged by {a.acknowledgedBy || "someone"}
                {a.acknowledgeComment ? `: “${a.acknowledgeComment}”` : ""}
              </Badge>
            )}
            {a.silencedBy.length > 0 && (
              <Badge color="grape" variant="light" data-testid="alert-silenced" tt="none">
                silenced (
                {a.silencedBy.length === 1 ? "1 silence" : `${a.silencedBy.length} silences`})
              </Badge>
            )}
            {a.inhibitedBy && (
              <Tooltip label={`Inhibited by alert ${a.inhibitedBy}`}>
                <Badge color="gray" variant="light" data-testid="alert-inhibited" tt="none">
                  inhibited: its node is lost
                </Badge>
              </Tooltip>
            )}
          </Group>
        </Stack>
        {canEdit && open && (
          <Group gap="xs" wrap="nowrap">
            {a.acknowledged ? (
              <Button
                size="xs"
                variant="default"
                data-testid="alert-unack"
                onClick={() =>
                  void attempt(
                    () => api.alerts.unacknowledgeAlert({ id: a.id }),
                    "Acknowledgement withdrawn.",
                  ).then((ok) => ok && onChanged())
                }
              >
                Unacknowledge
              </Button>
            ) : (
              <Button size="xs" data-testid="alert-ack" onClick={() => setAcking(true)}>
                Acknowledge
              </Button>
            )}
            <Menu position="bottom-end">
              <Menu.Target>
                <Button size="xs" variant="light" color="grape" data-testid="alert-silence">
                  Silence
                </Button>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Item
                  data-testid="alert-silence-1h"
                  onClick={() =>
                    void attempt(
                      () => silenceFor(api, matchers, 3600, `Silenced for 1 h: ${a.summary}`),
                      "Silenced for 1 hour.",
                    ).then((ok) => ok && onChanged())
                  }
                >
                  Silence for 1 h
                </Menu.Item>
                <Menu.Item data-testid="alert-silence-until" onClick={() => setSilencing(true)}>
                  Silence until …
                </Menu.Item>
              </Menu.Dropdown>
            </Menu>
          </Group>
        )}
      </Group>
      {acking && (
        <AckDialog
          alert={a}
          onClose={() => setAcking(false)}
          onDone={() => {
            setAcking(false);
            onChanged();
          }}
        />
      )}
      {silencing && (
        <SilenceDialog
          title="Silence this alert"
          matchers={matchers}
          onClose={() => setSilencing(false)}
          onCreated={() => {
            setSilencing(false);
            onChanged();
          }}
        />
      )}
    </Card>
  );
}
