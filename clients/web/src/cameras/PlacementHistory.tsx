// A camera's placement history from ListPlacements, newest first: when, from which node to
// which, why (in words) and the server's sentence. Reloaded when the live feed reports a
// CAMERA_PLACED event for the camera. A server without ListPlacements says so in words.
import { useCallback, useEffect, useState } from "react";
import { Badge, Button, Stack, Table, Text } from "@mantine/core";
import type { Placement } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { isUnimplemented } from "../api/errors";
import { useApi } from "../auth/AuthContext";
import { attempt, ErrorAlert } from "../components/feedback";
import { formatTime } from "../format";
import { placementReasonWords } from "../fleet/words";
import { useFleet } from "../watch/FleetContext";

const PAGE = 50;

export function PlacementHistory({
  cameraId,
  nodeName,
}: {
  cameraId: string;
  nodeName(id: string): string;
}) {
  const api = useApi();
  const fleet = useFleet();
  const [placements, setPlacements] = useState<Placement[] | null>(null);
  const [next, setNext] = useState("");
  const [error, setError] = useState<unknown>(null);
  const [unsupported, setUnsupported] = useState(false);
  const revision = fleet.placementRevisions.get(cameraId);

  const load = useCallback(async () => {
    try {
      const r = await api.cameras.listPlacements({ cameraId, pageSize: PAGE });
      setPlacements(r.placements);
      setNext(r.nextPageToken);
      setError(null);
    } catch (err) {
      if (isUnimplemented(err)) setUnsupported(true);
      else setError(err);
    }
  }, [api, cameraId]);

  useEffect(() => {
    void load();
  }, [load, revision]);

  if (unsupported)
    return (
      <Text size="sm" c="dimmed" data-testid="placements-unsupported">
        This server does not keep placement history yet.
      </Text>
    );
  const node = (id: string) =>
    id ? (
      nodeName(id)
    ) : (
      <Text span c="dimmed" size="sm">
        no node
      </Text>
    );
  return (
    <Stack gap="xs">
      <ErrorAlert error={error} testId="placements-error" />
      <Table data-testid="placements">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Time</Table.Th>
            <Table.Th>Move</Table.Th>
            <Table.Th>Why</Table.Th>
            <Table.Th>What happened</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {placements?.length === 0 && (
            <Table.Tr>
              <Table.Td colSpan={4}>
                <Text c="dimmed" size="sm">
                  Never placed: push cameras get a node when they first publish, pull cameras when a
                  node can take them.
                </Text>
              </Table.Td>
            </Table.Tr>
          )}
          {placements?.map((p, i) => (
            <Table.Tr
              key={`${p.epoch}-${i}`}
              data-testid="placement-row"
              data-from={p.fromNodeId}
              data-to={p.toNodeId}
            >
              <Table.Td>
                <Text size="sm">{formatTime(p.time)}</Text>
              </Table.Td>
              <Table.Td data-testid="placement-move">
                {node(p.fromNodeId)} → {node(p.toNodeId)}
              </Table.Td>
              <Table.Td>
                <Badge
                  variant="light"
                  style={{ textTransform: "none" }}
                  data-testid="placement-reason"
                >
                  {placementReasonWords(p.reason)}
                </Badge>
              </Table.Td>
              <Table.Td>
                <Text size="sm">{p.message}</Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {next && (
        <Button
          variant="light"
          size="xs"
          data-testid="placements-more"
          onClick={() =>
            void attempt(async () => {
              const r = await api.cameras.listPlacements({
                cameraId,
                pageSize: PAGE,
                pageToken: next,
              });
              setPlacements((prev) => [...(prev ?? []), ...r.placements]);
              setNext(r.nextPageToken);
            })
          }
        >
          Older moves
        </Button>
      )}
    </Stack>
  );
}
