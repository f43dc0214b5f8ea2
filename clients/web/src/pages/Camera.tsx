// One camera: its status (an ERROR's reason in large type: "authentication failed"), where it
// runs (its node, linked; the node taking it over during a move; why a pull camera waits), its
// node selector, and its placement history. Live from the shared feed; edited with CameraForm.
import { useEffect, useState, type ReactNode } from "react";
import {
  Alert,
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  SimpleGrid,
  Stack,
  Text,
  Title,
} from "@mantine/core";
import { Link, useParams } from "react-router";
import {
  CameraStatus,
  IngestMode,
  type Camera,
} from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useApi, useAuth } from "../auth/AuthContext";
import { StreamHealth } from "../analytics/StreamHealth";
import { CameraForm } from "../cameras/CameraForm";
import { PlacementHistory } from "../cameras/PlacementHistory";
import { ErrorAlert } from "../components/feedback";
import { cameraStatusColor, cameraStatusLabel } from "../format";
import { describeLabels } from "../fleet/labels";
import { redactSourceUrl } from "../fleet/sourceUrl";
import { useFleet } from "../watch/FleetContext";

function Field({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      {children}
    </Stack>
  );
}

export default function CameraPage() {
  const { id = "" } = useParams();
  const api = useApi();
  const { abilities } = useAuth();
  const fleet = useFleet();
  const [fetched, setFetched] = useState<Camera | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [editing, setEditing] = useState(false);

  // The feed has every camera once listed and keeps it current; read the camera only when the
  // feed lacks it (a direct link before the list arrived, a deleted camera, one this person may
  // not read), so the page says in words why there is nothing to show.
  const inFeed = fleet.cameras.has(id);
  useEffect(() => {
    if (inFeed) return;
    // Another camera's link followed meanwhile: its answer is not this page's.
    let stale = false;
    api.cameras
      .getCamera({ id })
      .then((r) => {
        if (stale) return;
        setFetched(r.camera ?? null);
        setError(null);
      })
      .catch((err) => {
        if (stale) return;
        setFetched(null);
        setError(err);
      });
    return () => {
      stale = true;
    };
  }, [api, id, inFeed, fleet.cameraVersion]);

  const camera = fleet.cameras.get(id) ?? fetched;
  if (!camera)
    return (
      <Stack>
        <Anchor component={Link} to="/cameras" size="sm">
          ← Cameras
        </Anchor>
        <ErrorAlert error={error} testId="camera-page-error" />
      </Stack>
    );

  const nodeName = (nodeId: string) => fleet.nodes.get(nodeId)?.name ?? nodeId;
  const nodeLink = (nodeId: string, testId: string) =>
    abilities.can(Permission.NODES_READ) ? (
      <Anchor
        component={Link}
        to={`/nodes?node=${nodeId}`}
        data-testid={testId}
        data-node-id={nodeId}
      >
        {nodeName(nodeId)}
      </Anchor>
    ) : (
      <Text data-testid={testId} data-node-id={nodeId}>
        {nodeName(nodeId)}
      </Text>
    );
  const pull = camera.ingestMode === IngestMode.PULL;
  const selector = describeLabels(camera.nodeSelector);

  return (
    <Stack data-testid="camera-page" data-camera-id={camera.id}>
      <Anchor component={Link} to="/cameras" size="sm">
        ← Cameras
      </Anchor>
      <Group justify="space-between">
        <Group>
          <Title order={2} data-testid="camera-page-name">
            {camera.name}
          </Title>
          <Badge
            size="lg"
            color={cameraStatusColor(camera.status)}
            data-testid="camera-page-status"
            data-status={cameraStatusLabel(camera.status)}
          >
            {cameraStatusLabel(camera.status)}
          </Badge>
          {!camera.active && <Badge color="gray">inactive</Badge>}
        </Group>
        {abilities.can(Permission.CAMERAS_WRITE) && (
          <Button variant="light" onClick={() => setEditing(true)} data-testid="camera-page-edit">
            Edit
          </Button>
        )}
      </Group>
      {camera.status === CameraStatus.ERROR && (
        <Alert color="red" variant="filled" title="The camera cannot be recorded" role="alert">
          <Text size="lg" fw={600} data-testid="camera-error-reason">
            {camera.statusReason || "The node reported an error without saying why."}
          </Text>
          {pull && (
            <Text size="sm">
              The node retries with backoff; fix the source URL or the camera, and it recovers by
              itself.
            </Text>
          )}
        </Alert>
      )}
      {camera.status !== CameraStatus.ERROR && camera.statusReason && (
        <Text c="dimmed" data-testid="camera-status-reason">
          {camera.statusReason}
        </Text>
      )}
      <Card withBorder>
        <SimpleGrid cols={{ base: 1, sm: 2, md: 4 }}>
          <Field label={pull ? "Pulled by node" : "Home node"}>
            {camera.nodeId ? (
              nodeLink(camera.nodeId, "camera-node")
            ) : (
              <Text c="dimmed" data-testid="camera-node" data-node-id="">
                none yet
              </Text>
            )}
            {camera.placementReason && (
              <Text size="sm" c="orange" data-testid="camera-placement-reason">
                {camera.placementReason}
              </Text>
            )}
          </Field>
          <Field label="Moving to">
            {camera.handoverNodeId ? (
              <Group gap={6}>
                {nodeLink(camera.handoverNodeId, "camera-handover")}
                <Text size="xs" c="dimmed">
                  already pulling; the old node stops once it records
                </Text>
              </Group>
            ) : (
              <Text c="dimmed">not moving</Text>
            )}
          </Field>
          <Field label="Node selector">
            <Text data-testid="camera-node-selector">
              {pull
                ? selector || "any node"
                : "not used: a push camera is homed where it publishes"}
            </Text>
          </Field>
          <Field label="Ingest">
            <Text>{pull ? "node pulls a URL" : "camera pushes RTMP"}</Text>
            {pull && (
              <Text
                size="xs"
                c="dimmed"
                style={{ wordBreak: "break-all" }}
                data-testid="camera-page-source-url"
              >
                {redactSourceUrl(camera.sourceUrl)}
              </Text>
            )}
            <Text size="xs" c="dimmed">
              placement epoch {String(camera.placementEpoch)}
            </Text>
          </Field>
        </SimpleGrid>
      </Card>
      {abilities.can(Permission.ANALYTICS_READ) && <StreamHealth cameraId={camera.id} />}
      <Title order={4}>Placement history</Title>
      <PlacementHistory cameraId={camera.id} nodeName={nodeName} />
      {editing && (
        <CameraForm
          camera={camera}
          onClose={() => setEditing(false)}
          onSaved={(c) => {
            setFetched(c);
            setEditing(false);
          }}
        />
      )}
    </Stack>
  );
}
