import { useState, type FormEvent } from "react";
import {
  Alert,
  Button,
  Center,
  Paper,
  PasswordInput,
  Stack,
  TextInput,
  Title,
} from "@mantine/core";
import { useAuth } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";

export function LoginPage() {
  const { login, endedNotice } = useAuth();
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username.trim(), password);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Center h="100vh">
      <Paper withBorder shadow="sm" p="xl" w={360}>
        <form onSubmit={(e) => void submit(e)} data-testid="login-form">
          <Stack>
            <Title order={3}>Sign in to camfleet</Title>
            <TextInput
              label="Username"
              autoComplete="username"
              required
              autoFocus
              value={username}
              onChange={(e) => setUsername(e.currentTarget.value)}
              data-testid="login-username"
            />
            <PasswordInput
              label="Password"
              autoComplete="current-password"
              required
              value={password}
              onChange={(e) => setPassword(e.currentTarget.value)}
              data-testid="login-password"
            />
            {endedNotice && !error && (
              <Alert color="orange" variant="light" data-testid="session-ended">
                {endedNotice}
              </Alert>
            )}
            <ErrorAlert error={error} testId="login-error" />
            <Button type="submit" loading={busy} data-testid="login-submit">
              Sign in
            </Button>
          </Stack>
        </form>
      </Paper>
    </Center>
  );
}
