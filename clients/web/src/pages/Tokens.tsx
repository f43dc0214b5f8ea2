// API tokens: create (the secret is shown once, here), list, revoke.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import {
  Badge,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  MultiSelect,
  NumberInput,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { ApiTokenSchema, type ApiToken } from "@camfleet/client/gen/camfleet/v1/api_token_pb.js";
import { Permission, type PermissionInfo } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { permissionName } from "../auth/navigation";
import { attempt, ErrorAlert } from "../components/feedback";
import { formatTime } from "../format";

// The scopes on offer are the server's permissions, each with its one-line description
// (AuthService.ListPermissions, declared in protos/camfleet/v1/permission.proto).
function useScopes(onError: (err: unknown) => void): PermissionInfo[] {
  const api = useApi();
  const [scopes, setScopes] = useState<PermissionInfo[]>([]);
  useEffect(() => {
    api.auth.listPermissions({}).then((r) => setScopes(r.permissions), onError);
  }, [api, onError]);
  return scopes;
}

function NewToken({ onClose, onCreated }: { onClose(): void; onCreated(secret: string): void }) {
  const api = useApi();
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<string[]>([permissionName(Permission.CAMERAS_READ)]);
  const [cidrs, setCidrs] = useState("");
  const [days, setDays] = useState<number | string>(90);
  const [error, setError] = useState<unknown>(null);
  const known = useScopes(setError);
  const described = new Map(known.map((p) => [p.name, p.description]));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    try {
      const r = await api.tokens.createApiToken({
        apiToken: create(ApiTokenSchema, {
          name,
          scopes,
          allowedCidrs: cidrs.split(/[\s,]+/).filter(Boolean),
        }),
        ttl:
          Number(days) > 0
            ? create(DurationSchema, { seconds: BigInt(Math.round(Number(days) * 86400)) })
            : undefined,
      });
      onCreated(r.secret);
    } catch (err) {
      setError(err);
    }
  };
  return (
    <Modal opened onClose={onClose} title="New API token">
      <form onSubmit={(e) => void submit(e)}>
        <Stack>
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            data-testid="token-name"
          />
          <MultiSelect
            label="Scopes"
            data={known.map((p) => p.name)}
            value={scopes}
            onChange={setScopes}
            searchable
            data-testid="token-scopes"
            renderOption={({ option }) => (
              <Stack gap={0}>
                <Text size="sm">{option.value}</Text>
                <Text size="xs" c="dimmed">
                  {described.get(option.value)}
                </Text>
              </Stack>
            )}
          />
          <TextInput
            label="Allowed networks"
            description="CIDRs, comma separated; empty: anywhere"
            value={cidrs}
            onChange={(e) => setCidrs(e.currentTarget.value)}
          />
          <NumberInput
            label="Expires after (days)"
            description="0: never (not recommended)"
            min={0}
            value={days}
            onChange={setDays}
          />
          <ErrorAlert error={error} />
          <Group justify="flex-end">
            <Button type="submit" data-testid="token-save">
              Create token
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}

export default function TokensPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const canEdit = abilities.can(Permission.API_TOKENS_WRITE);
  const [tokens, setTokens] = useState<ApiToken[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [creating, setCreating] = useState(false);
  const [secret, setSecret] = useState<string | null>(null);

  const reload = useCallback(async () => {
    try {
      setTokens(
        (await api.tokens.listApiTokens({ orderBy: "create_time desc", pageSize: 1000 })).apiTokens,
      );
      setError(null);
    } catch (err) {
      setError(err);
    }
  }, [api]);
  useEffect(() => {
    void reload();
  }, [reload]);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>API tokens</Title>
        {canEdit && (
          <Button onClick={() => setCreating(true)} data-testid="token-new">
            New token
          </Button>
        )}
      </Group>
      <ErrorAlert error={error} />
      <Table data-testid="token-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Token</Table.Th>
            <Table.Th>Scopes</Table.Th>
            <Table.Th>Expires</Table.Th>
            <Table.Th>Last used</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {tokens.map((t) => (
            <Table.Tr key={t.id} data-testid="token-row" data-name={t.name}>
              <Table.Td>{t.name}</Table.Td>
              <Table.Td>
                <Code>{t.displayPrefix}…</Code>
              </Table.Td>
              <Table.Td>
                {t.scopes.map((s) => (
                  <Badge key={s} size="xs" variant="outline" mr={4}>
                    {s}
                  </Badge>
                ))}
              </Table.Td>
              <Table.Td>{t.expireTime ? formatTime(t.expireTime) : "never"}</Table.Td>
              <Table.Td>
                {formatTime(t.lastUsedTime)}
                {t.lastUsedAddress && (
                  <Text size="xs" c="dimmed">
                    {t.lastUsedAddress}
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                {t.revokeTime ? (
                  <Badge color="gray">revoked</Badge>
                ) : (
                  canEdit && (
                    <Button
                      size="xs"
                      color="red"
                      variant="subtle"
                      onClick={() =>
                        void attempt(async () => {
                          await api.tokens.revokeApiToken({ id: t.id });
                          await reload();
                        }, `${t.name} revoked.`)
                      }
                    >
                      Revoke
                    </Button>
                  )
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {creating && (
        <NewToken
          onClose={() => setCreating(false)}
          onCreated={(s) => {
            setCreating(false);
            setSecret(s);
            void reload();
          }}
        />
      )}
      <Modal
        opened={secret !== null}
        onClose={() => setSecret(null)}
        title="Your new token"
        size="lg"
        closeOnClickOutside={false}
      >
        <Stack>
          <Text size="sm" fw={500}>
            Copy it now: it is shown only once and cannot be recovered.
          </Text>
          <Code block data-testid="token-secret">
            {secret}
          </Code>
          <CopyButton value={secret ?? ""}>
            {({ copied, copy }) => <Button onClick={copy}>{copied ? "Copied" : "Copy"}</Button>}
          </CopyButton>
        </Stack>
      </Modal>
    </Stack>
  );
}
