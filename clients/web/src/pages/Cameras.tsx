// Cameras: search and filter (server-side, AIP-160), create/edit/delete, publish URL, stream key
// rotation, activate/deactivate, recording on/off, and the same actions on a selection.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import {
  Anchor,
  Badge,
  Button,
  Checkbox,
  Group,
  Menu,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
  Tooltip,
} from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { Link, useNavigate } from "react-router";
import {
  CameraAction,
  CameraStatus,
  IngestMode,
  type Camera,
} from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { CameraForm } from "../cameras/CameraForm";
import { CameraRowMenu, confirm } from "../cameras/CameraRowMenu";
import { cameraFilter, type CameraFilters } from "../cameras/filter";
import { CameraFilterControls } from "../cameras/FilterControls";
import { PublishUrl } from "../cameras/PublishUrl";
import { attempt, ErrorAlert } from "../components/feedback";
import { cameraStatusColor, cameraStatusLabel } from "../format";
import { useFleet } from "../watch/FleetContext";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";

const PAGE = 200;

const BULK: { action: CameraAction; label: string; danger?: boolean }[] = [
  { action: CameraAction.ACTIVATE, label: "Activate" },
  { action: CameraAction.DEACTIVATE, label: "Deactivate" },
  { action: CameraAction.START_RECORDING, label: "Start recording" },
  { action: CameraAction.STOP_RECORDING, label: "Stop recording" },
  { action: CameraAction.ROTATE_STREAM_KEY, label: "Rotate stream keys", danger: true },
  { action: CameraAction.DELETE, label: "Delete", danger: true },
];

export function CamerasPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const fleet = useFleet();
  const navigate = useNavigate();
  const canEdit = abilities.can(Permission.CAMERAS_WRITE);
  const [search, setSearch] = useState("");
  const [filters, setFilters] = useState<CameraFilters>({});
  const [debouncedSearch] = useDebouncedValue(search, 250);
  const [cameras, setCameras] = useState<Camera[]>([]);
  const [nextPage, setNextPage] = useState("");
  const shownRef = useRef(0);
  // The latest count for the reload callback, without making it change on every page.
  // eslint-disable-next-line react-hooks/refs -- read only by that callback, never in render
  shownRef.current = cameras.length;
  const [total, setTotal] = useState(0);
  const [error, setError] = useState<unknown>(null);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  const [editing, setEditing] = useState<Camera | null | undefined>(undefined);
  const [publishing, setPublishing] = useState<Camera | null>(null);

  const filter = useMemo(() => cameraFilter(filters), [filters]);
  const reload = useCallback(async () => {
    try {
      // Keep as many rows as are shown (a reload after "Load more" must not shrink the list).
      const r = await api.cameras.listCameras({
        search: debouncedSearch,
        filter,
        orderBy: "name",
        pageSize: Math.max(PAGE, shownRef.current),
      });
      setCameras(r.cameras);
      setNextPage(r.nextPageToken);
      setTotal(r.totalSize);
      setError(null);
      setSelected((s) => new Set([...s].filter((id) => r.cameras.some((c) => c.id === id))));
    } catch (err) {
      setError(err);
    }
  }, [api, debouncedSearch, filter]);

  // Reload on filter changes and whenever the live feed reports a camera change.
  useEffect(() => {
    void reload();
  }, [reload, fleet.cameraVersion]);

  const live = (c: Camera) => fleet.cameras.get(c.id) ?? c;
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });

  const bulk = (action: CameraAction, label: string, danger?: boolean) => {
    const ids = [...selected];
    const run = () =>
      void attempt(
        async () => {
          const r = await api.cameras.batchCameraAction({ ids, action });
          setSelected(new Set());
          await reload();
          return r;
        },
        `${label}: ${ids.length} camera${ids.length === 1 ? "" : "s"} done.`,
      );
    if (danger)
      confirm(
        `${label} ${ids.length} cameras?`,
        action === CameraAction.DELETE
          ? "Their recordings index entries stay until retention removes them."
          : "Publishers using the old keys are disconnected.",
        label,
        run,
      );
    else run();
  };

  const rowAction = (fn: () => Promise<unknown>, done: string) =>
    void attempt(async () => {
      await fn();
      await reload();
    }, done);

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>
          Cameras{" "}
          <Text span c="dimmed" size="sm" data-testid="camera-total">
            {total}
          </Text>
        </Title>
        {canEdit && (
          <Button onClick={() => setEditing(null)} data-testid="camera-new">
            New camera
          </Button>
        )}
      </Group>
      <Group>
        <TextInput
          placeholder="Search name, description, location"
          value={search}
          onChange={(e) => setSearch(e.currentTarget.value)}
          w={280}
          data-testid="camera-search"
        />
        <CameraFilterControls filters={filters} onChange={setFilters} />
        {canEdit && selected.size > 0 && (
          <Menu>
            <Menu.Target>
              <Button variant="light" data-testid="bulk-menu">
                {selected.size} selected…
              </Button>
            </Menu.Target>
            <Menu.Dropdown>
              {BULK.map((b) => (
                <Menu.Item
                  key={b.action}
                  color={b.danger ? "red" : undefined}
                  onClick={() => bulk(b.action, b.label, b.danger)}
                  data-testid={`bulk-${CameraAction[b.action]}`}
                >
                  {b.label}
                </Menu.Item>
              ))}
            </Menu.Dropdown>
          </Menu>
        )}
      </Group>
      <ErrorAlert error={error} />
      <Table highlightOnHover data-testid="camera-table">
        <Table.Thead>
          <Table.Tr>
            {canEdit && (
              <Table.Th w={36}>
                <Checkbox
                  aria-label="Select all"
                  checked={cameras.length > 0 && selected.size === cameras.length}
                  indeterminate={selected.size > 0 && selected.size < cameras.length}
                  onChange={() =>
                    setSelected(
                      selected.size === cameras.length
                        ? new Set()
                        : new Set(cameras.map((c) => c.id)),
                    )
                  }
                />
              </Table.Th>
            )}
            <Table.Th>Name</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Node</Table.Th>
            <Table.Th>Location</Table.Th>
            <Table.Th>Labels</Table.Th>
            <Table.Th>Active</Table.Th>
            <Table.Th>Recording</Table.Th>
            {canEdit && <Table.Th />}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {cameras.length === 0 && !error && (
            <Table.Tr>
              <Table.Td colSpan={9}>
                <Text c="dimmed">No cameras match.</Text>
              </Table.Td>
            </Table.Tr>
          )}
          {cameras.map((c0) => {
            const c = live(c0);
            const active = c.active ?? true;
            return (
              <Table.Tr
                key={c.id}
                data-testid="camera-row"
                data-name={c.name}
                data-status={cameraStatusLabel(c.status)}
              >
                {canEdit && (
                  <Table.Td>
                    <Checkbox
                      aria-label={`Select ${c.name}`}
                      checked={selected.has(c.id)}
                      onChange={() => toggle(c.id)}
                      data-testid="camera-select"
                    />
                  </Table.Td>
                )}
                <Table.Td>
                  <Anchor
                    component={Link}
                    to={`/cameras/${c.id}`}
                    fw={500}
                    data-testid="camera-link"
                  >
                    {c.name}
                  </Anchor>
                  <Text size="xs" c="dimmed" lineClamp={1}>
                    {c.description}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Tooltip label={c.statusReason || cameraStatusLabel(c.status)}>
                    <Badge color={cameraStatusColor(c.status)} data-testid="camera-status">
                      {cameraStatusLabel(c.status)}
                    </Badge>
                  </Tooltip>
                  {c.status === CameraStatus.ERROR && c.statusReason && (
                    <Text size="xs" c="red" fw={500} data-testid="camera-status-reason">
                      {c.statusReason}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td data-testid="camera-node-cell">
                  {c.nodeId ? (
                    <Text size="sm">{fleet.nodes.get(c.nodeId)?.name ?? "—"}</Text>
                  ) : (
                    <Text size="xs" c="dimmed">
                      {c.placementReason || "—"}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>{c.location}</Table.Td>
                <Table.Td>
                  {Object.entries(c.labels).map(([k, v]) => (
                    <Badge key={k} variant="outline" size="sm" mr={4}>
                      {k}={v}
                    </Badge>
                  ))}
                </Table.Td>
                <Table.Td>
                  {canEdit ? (
                    <Switch
                      checked={active}
                      aria-label="Active"
                      data-testid="camera-active"
                      onChange={() =>
                        rowAction(
                          () =>
                            active
                              ? api.cameras.deactivateCamera({ id: c.id })
                              : api.cameras.activateCamera({ id: c.id }),
                          `${c.name} ${active ? "deactivated" : "activated"}.`,
                        )
                      }
                    />
                  ) : (
                    <Text size="sm">{active ? "yes" : "no"}</Text>
                  )}
                </Table.Td>
                <Table.Td>
                  {canEdit ? (
                    <Switch
                      checked={c.recordingEnabled}
                      aria-label="Recording"
                      data-testid="camera-recording-toggle"
                      onChange={() =>
                        rowAction(
                          () =>
                            c.recordingEnabled
                              ? api.cameras.stopRecording({ id: c.id })
                              : api.cameras.startRecording({ id: c.id }),
                          `Recording ${c.recordingEnabled ? "stopped" : "started"} for ${c.name}.`,
                        )
                      }
                    />
                  ) : (
                    <Text size="sm">{c.recordingEnabled ? "on" : "off"}</Text>
                  )}
                </Table.Td>
                {canEdit && (
                  <Table.Td>
                    <CameraRowMenu
                      camera={c}
                      onEdit={() => setEditing(c)}
                      onPublishUrl={() => setPublishing(c)}
                      rowAction={rowAction}
                    />
                  </Table.Td>
                )}
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {nextPage && (
        <Button
          variant="light"
          data-testid="camera-more"
          onClick={() =>
            void attempt(async () => {
              const r = await api.cameras.listCameras({
                search: debouncedSearch,
                filter,
                orderBy: "name",
                pageSize: PAGE,
                pageToken: nextPage,
              });
              setCameras((prev) => [...prev, ...r.cameras]);
              setNextPage(r.nextPageToken);
            })
          }
        >
          Load more ({cameras.length} of {total})
        </Button>
      )}
      {editing !== undefined && (
        <CameraForm
          camera={editing}
          onClose={() => setEditing(undefined)}
          onSaved={(c) => {
            setEditing(undefined);
            void reload();
            // A new push camera needs its publish URL next; a new pull camera's page shows
            // where it is placed and whether its source answers.
            if (!editing && c.ingestMode === IngestMode.PULL) navigate(`/cameras/${c.id}`);
            else if (!editing) setPublishing(c);
          }}
        />
      )}
      {publishing && <PublishUrl camera={publishing} onClose={() => setPublishing(null)} />}
    </Stack>
  );
}
