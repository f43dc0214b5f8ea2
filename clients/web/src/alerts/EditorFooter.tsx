// The end of every alerting editor form (rule, channel, policy): the form's own problems as a
// list (after a first try to save), the server's refusal in words, and Cancel / Save.
import { Alert, Button, Group, List } from "@mantine/core";
import { ErrorAlert } from "../components/feedback";

export function EditorFooter({
  what,
  existing,
  checked,
  errors,
  error,
  busy,
  onClose,
}: {
  what: "rule" | "channel" | "policy";
  existing: boolean;
  checked: boolean;
  errors: string[];
  error: unknown;
  busy: boolean;
  onClose: () => void;
}) {
  return (
    <>
      {checked && errors.length > 0 && (
        <Alert color="red" variant="light" data-testid={`${what}-problems`}>
          <List size="sm">
            {errors.map((p) => (
              <List.Item key={p}>{p}</List.Item>
            ))}
          </List>
        </Alert>
      )}
      <ErrorAlert error={error} testId={`${what}-error`} />
      <Group justify="flex-end">
        <Button variant="default" onClick={onClose}>
          Cancel
        </Button>
        <Button type="submit" loading={busy} data-testid={`${what}-save`}>
          {existing ? `Save ${what}` : `Create ${what}`}
        </Button>
      </Group>
    </>
  );
}
