// Users: list, create (with a first password), change role, disable, reset password, delete.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import {
  Badge,
  Button,
  Group,
  Menu,
  Modal,
  PasswordInput,
  Select,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { modals } from "@mantine/modals";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { Role } from "@camfleet/client/gen/camfleet/v1/common_pb.js";
import { UserSchema, type User } from "@camfleet/client/gen/camfleet/v1/user_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { roleLabel } from "../auth/navigation";
import { attempt, ErrorAlert } from "../components/feedback";
import { formatTime } from "../format";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";

const ROLES = [Role.ADMIN, Role.OPERATOR, Role.VIEWER, Role.API].map((r) => ({
  value: String(r),
  label: roleLabel(r),
}));

function NewUser({ onClose, onCreated }: { onClose(): void; onCreated(): void }) {
  const api = useApi();
  const [username, setUsername] = useState("");
  const [displayName, setDisplayName] = useState("");
  const [role, setRole] = useState(String(Role.VIEWER));
  const [password, setPassword] = useState("");
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      await api.users.createUser({
        user: create(UserSchema, { username, displayName, role: Number(role) as Role }),
        password,
      });
      onCreated();
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Modal opened onClose={onClose} title="New user">
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput
            label="Username"
            required
            value={username}
            onChange={(e) => setUsername(e.currentTarget.value)}
            data-testid="user-username"
          />
          <TextInput
            label="Display name"
            value={displayName}
            onChange={(e) => setDisplayName(e.currentTarget.value)}
          />
          <Select
            label="Role"
            data={ROLES}
            value={role}
            onChange={(v) => setRole(v ?? String(Role.VIEWER))}
            allowDeselect={false}
            data-testid="user-role"
          />
          <PasswordInput
            label="Password"
            description="Long and uncommon: a few unrelated words work well"
            required
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            data-testid="user-password"
          />
          <ErrorAlert error={error} />
          <Group justify="flex-end">
            <Button type="submit" data-testid="user-save">
              Create user
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export default function UsersPage() {
  const api = useApi();
  const { abilities, user: me } = useAuth();
  const canEdit = abilities.can(Permission.USERS_WRITE);
  const [users, setUsers] = useState<User[]>([]);
  const [search, setSearch] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);

  const reload = useCallback(async () => {
    try {
      setUsers(
        (await api.users.listUsers({ filter: search.trim(), orderBy: "username", pageSize: 1000 }))
          .users,
      );
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [api, search]);
  useEffect(() => {
    void reload();
  }, [reload]);

  const update = (
    u: User,
    fields: { role?: Role; disabled?: boolean },
    paths: string[],
    done: string,
  ) =>
    void attempt(async () => {
      await api.users.updateUser({
        user: create(UserSchema, { id: u.id, ...fields }),
        updateMask: create(FieldMaskSchema, { paths }),
      });
      await reload();
    }, done);

  const resetPassword = (u: User) => {
    let pw = "";
    modals.openConfirmModal({
      title: `New password for ${u.username}`,
      children: (
        <PasswordInput
          label="Password"
          description="Every session of this user is ended."
          onChange={(e) => {
            pw = e.currentTarget.value;
          }}
        />
      ),
      labels: { confirm: "Set password", cancel: "Cancel" },
      onConfirm: () =>
        void attempt(
          () => api.users.changePassword({ userId: u.id, newPassword: pw }),
          `Password of ${u.username} changed.`,
        ),
    });
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Users</Title>
        {canEdit && (
          <Button onClick={() => setCreating(true)} data-testid="user-new">
            New user
          </Button>
        )}
      </Group>
      <TextInput
        placeholder="Search (words, or a filter like role = ROLE_VIEWER)"
        value={search}
        onChange={(e) => setSearch(e.currentTarget.value)}
        w={360}
      />
      <ErrorAlert error={error} />
      <Table data-testid="user-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Username</Table.Th>
            <Table.Th>Name</Table.Th>
            <Table.Th>Role</Table.Th>
            <Table.Th>Enabled</Table.Th>
            <Table.Th>Last login</Table.Th>
            {canEdit && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {users.map((u) => (
            <Table.Tr key={u.id} data-testid="user-row" data-username={u.username}>
              <Table.Td>
                {u.username}
                {u.id === me?.id && (
                  <Badge ml="xs" size="xs">
                    you
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>{u.displayName}</Table.Td>
              <Table.Td>
                {canEdit && u.id !== me?.id ? (
                  <Select
                    size="xs"
                    w={120}
                    data={ROLES}
                    value={String(u.role)}
                    allowDeselect={false}
                    onChange={(v) =>
                      v &&
                      update(
                        u,
                        { role: Number(v) as Role },
                        ["role"],
                        `${u.username} is now ${roleLabel(Number(v) as Role)}.`,
                      )
                    }
                  />
                ) : (
                  roleLabel(u.role)
                )}
              </Table.Td>
              <Table.Td>
                {canEdit && u.id !== me?.id ? (
                  <Switch
                    checked={!u.disabled}
                    onChange={() =>
                      update(
                        u,
                        { disabled: !u.disabled },
                        ["disabled"],
                        `${u.username} ${u.disabled ? "enabled" : "disabled"}.`,
                      )
                    }
                  />
                ) : u.disabled ? (
                  "no"
                ) : (
                  "yes"
                )}
              </Table.Td>
              <Table.Td>{formatTime(u.lastLoginTime)}</Table.Td>
              {canEdit && (
                <Table.Td>
                  <Menu position="bottom-end">
                    <Menu.Target>
                      <Button size="xs" variant="subtle">
                        Actions
                      </Button>
                    </Menu.Target>
                    <Menu.Dropdown>
                      <Menu.Item onClick={() => resetPassword(u)}>Set password</Menu.Item>
                      {u.id !== me?.id && (
                        <Menu.Item
                          color="red"
                          onClick={() =>
                            modals.openConfirmModal({
                              title: `Delete ${u.username}?`,
                              children: (
                                <Text size="sm">Their sessions and API tokens stop working.</Text>
                              ),
                              labels: { confirm: "Delete", cancel: "Cancel" },
                              confirmProps: { color: "red" },
                              onConfirm: () =>
                                void attempt(async () => {
                                  await api.users.deleteUser({ id: u.id });
                                  await reload();
                                }, `${u.username} deleted.`),
                            })
                          }
                        >
                          Delete
                        </Menu.Item>
                      )}
                    </Menu.Dropdown>
                  </Menu>
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {creating && (
        <NewUser
          onClose={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            void reload();
          }}
        />
      )}
    </Stack>
  );
}
