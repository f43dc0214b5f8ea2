// Create a silence: matchers (prefilled from an alert's identifying labels), when it starts and
// ends, and a comment. Also "Silence for 1 h" in one click (silenceFor).
import { useState, type FormEvent } from "react";
import { Alert, Button, Group, List, Modal, Stack, Text, TextInput, Textarea } from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { SilenceSchema, type Matcher } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import type { Api } from "../api/client";
import { useApi } from "../auth/AuthContext";
import { ErrorAlert, notifyDone } from "../components/feedback";
import { localInputValue, silenceWindow } from "./format";
import { matchersToText, parseMatchers } from "./matchers";

/** A silence of `matchers` from now for `seconds`. */
export async function silenceFor(
  api: Api,
  matchers: Matcher[],
  seconds: number,
  comment: string,
): Promise<void> {
  const now = Date.now();
  await api.alerts.createSilence({
    silence: create(SilenceSchema, {
      matchers,
      startTime: timestampFromMs(now),
      endTime: timestampFromMs(now + seconds * 1000),
      comment,
    }),
  });
}

export function SilenceDialog({
  title,
  matchers: initial,
  onClose,
  onCreated,
}: {
  title: string;
  matchers: Matcher[];
  onClose(): void;
  onCreated(): void;
}) {
  const api = useApi();
  const [text, setText] = useState(matchersToText(initial));
  const [start, setStart] = useState("");
  const [end, setEnd] = useState(() => localInputValue(Date.now() + 4 * 3600_000));
  const [comment, setComment] = useState("");
  const [problems, setProblems] = useState<string[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const { matchers, errors } = parseMatchers(text);
    const window = silenceWindow(start, end, Date.now());
    const found = [...errors, ...window.problems];
    if (matchers.length === 0 && errors.length === 0) found.unshift("Give at least one matcher.");
    setProblems(found);
    if (found.length) return;
    setBusy(true);
    setError(null);
    try {
      await api.alerts.createSilence({
        silence: create(SilenceSchema, {
          matchers,
          startTime: window.startMs !== null ? timestampFromMs(window.startMs) : undefined,
          endTime: timestampFromMs(window.endMs!),
          comment: comment.trim(),
        }),
      });
      notifyDone("Silence created.");
      onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={title} size="lg">
      <form onSubmit={(e) => void submit(e)} data-testid="silence-form">
        <Stack>
          <Textarea
            label="Matchers"
            description="One a line: name=value or name!=value. Alerts whose labels match them all are muted."
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            autosize
            minRows={2}
            data-testid="silence-matchers"
          />
          <Group grow>
            <TextInput
              type="datetime-local"
              label="Starts"
              description="Empty: now"
              value={start}
              onChange={(e) => setStart(e.currentTarget.value)}
              data-testid="silence-start"
            />
            <TextInput
              type="datetime-local"
              label="Until"
              required
              value={end}
              onChange={(e) => setEnd(e.currentTarget.value)}
              data-testid="silence-until"
            />
          </Group>
          <TextInput
            label="Comment"
            placeholder="Why, e.g. maintenance of the north site"
            value={comment}
            onChange={(e) => setComment(e.currentTarget.value)}
            data-testid="silence-comment"
          />
          {problems.length > 0 && (
            <Alert color="red" variant="light" data-testid="silence-problems">
              <List size="sm">
                {problems.map((p) => (
                  <List.Item key={p}>{p}</List.Item>
                ))}
              </List>
            </Alert>
          )}
          <ErrorAlert error={error} testId="silence-error" />
          <Text size="xs" c="dimmed">
            A silence mutes notifications; the alerts stay listed, marked silenced.
          </Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} data-testid="silence-save">
              Create silence
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
