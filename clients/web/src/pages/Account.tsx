import { useState, type FormEvent } from "react";
import { Button, Paper, PasswordInput, Stack, Text, Title } from "@mantine/core";
import { useAuth } from "../auth/AuthContext";
import { attempt } from "../components/feedback";
import { roleLabel } from "../auth/navigation";

export function AccountPage() {
  const { api, user, abilities, logout } = useAuth();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");

  const change = async (e: FormEvent) => {
    e.preventDefault();
    // Changing a password ends every session of the account, this one included.
    if (
      await attempt(
        () => api.users.changePassword({ currentPassword: current, newPassword: next }),
        "Password changed. Sign in again.",
      )
    ) {
      await logout();
    }
  };

  return (
    <Stack maw={420}>
      <Title order={2}>My account</Title>
      <Text>
        {user?.username} · {roleLabel(abilities.role)}
      </Text>
      <Paper withBorder p="md">
        <form onSubmit={(e) => void change(e)}>
          <Stack>
            <Title order={4}>Change password</Title>
            <PasswordInput
              label="Current password"
              required
              value={current}
              onChange={(e) => setCurrent(e.currentTarget.value)}
            />
            <PasswordInput
              label="New password"
              description="Long and uncommon: a few unrelated words work well"
              required
              value={next}
              onChange={(e) => setNext(e.currentTarget.value)}
            />
            <Button type="submit">Change password</Button>
          </Stack>
        </form>
      </Paper>
    </Stack>
  );
}
