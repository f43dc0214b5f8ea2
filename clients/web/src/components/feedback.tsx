// Showing errors and outcomes: every failure goes through describeError, so the operator reads a
// sentence, never a status code.
import { Alert } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { describeError } from "../api/errors";

export function ErrorAlert({ error, testId = "error" }: { error: unknown; testId?: string }) {
  if (!error) return null;
  return (
    <Alert color="red" variant="light" data-testid={testId} role="alert">
      {describeError(error).sentence}
    </Alert>
  );
}

export function notifyError(error: unknown, title = "That did not work"): void {
  notifications.show({
    color: "red",
    title,
    message: describeError(error).sentence,
    autoClose: 8000,
  });
}

export function notifyDone(message: string): void {
  notifications.show({ color: "teal", message, autoClose: 3000 });
}

/** Run an action, report failure as a notification; resolves to whether it succeeded. */
export async function attempt(action: () => Promise<unknown>, done?: string): Promise<boolean> {
  try {
    await action();
    if (done) notifyDone(done);
    return true;
  } catch (err) {
    notifyError(err);
    return false;
  }
}
