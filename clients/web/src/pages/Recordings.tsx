// Recordings: per camera and day, the timeline of recorded spans and gaps; a player over the
// signed VOD playlist (hls.js seeks across segments); segment download; clip export.
import { useCallback, useEffect, useMemo, useState } from "react";
import {
  Anchor,
  Badge,
  Button,
  Card,
  Group,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { timestampDate, timestampFromMs, durationMs } from "../recordings/wkt";
import {
  type Recording,
  type GetTimelineResponse,
  StorageTier,
} from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import { useLatest } from "../api/latest";
import { useApi, useAuth } from "../auth/AuthContext";
import { modals } from "@mantine/modals";
import { attempt, ErrorAlert, notifyError } from "../components/feedback";
import { formatBytes } from "../format";
import { dayBounds, playableFrom, type Interval } from "../recordings/timeline";
import { TimelineBar } from "../recordings/TimelineBar";
import { RecordingPlayer } from "./RecordingPlayer";
import { useFleet } from "../watch/FleetContext";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";

/** Where a segment's file lives: the node's disk (hot), its second directory (warm), or the
 * cold tier in object storage. */
const TIER_NAMES: Partial<Record<StorageTier, string>> = {
  [StorageTier.HOT]: "hot",
  [StorageTier.WARM]: "warm",
  [StorageTier.COLD]: "cold",
};
const TIER_COLORS: Partial<Record<StorageTier, string>> = {
  [StorageTier.HOT]: "red",
  [StorageTier.WARM]: "orange",
  [StorageTier.COLD]: "blue",
};

const toDateInput = (ms: number) => {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
};
const clockAt = (ms: number) => new Date(ms).toLocaleTimeString("en-GB", { hour12: false });
const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour12: false });
const atTimeOf = (dayStart: number, hhmmss: string) => {
  const [h, m, s] = hhmmss.split(":").map(Number);
  return dayStart + ((h || 0) * 3600 + (m || 0) * 60 + (s || 0)) * 1000;
};

export default function RecordingsPage() {
  const api = useApi();
  const { abilities } = useAuth();
  const fleet = useFleet();
  const cameras = useMemo(
    () => [...fleet.cameras.values()].sort((a, b) => a.name.localeCompare(b.name)),
    [fleet.cameras],
  );
  const [cameraId, setCameraId] = useState<string | null>(null);
  const [day, setDay] = useState(() => toDateInput(Date.now()));
  const [timeline, setTimeline] = useState<GetTimelineResponse | null>(null);
  const [recordings, setRecordings] = useState<Recording[]>([]);
  const [error, setError] = useState<unknown>(null);
  const [playUrl, setPlayUrl] = useState<string | null>(null);
  const [playFrom, setPlayFrom] = useState<number | null>(null);
  const [clipFrom, setClipFrom] = useState("");
  const [clipTo, setClipTo] = useState("");
  const [clipUrl, setClipUrl] = useState<string | null>(null);
  // Gaps inside the exported clip (nothing recorded: the picture holds across each).
  const [clipHoles, setClipHoles] = useState<string[]>([]);

  const range = useMemo(() => dayBounds(new Date(`${day}T12:00:00`).getTime()), [day]);
  const [zoom, setZoom] = useState<string>(String(24 * 3600_000));
  // The bar shows `zoom` ending now (today) or at midnight (a past day); recomputed on every
  // reload so "now" moves with the recordings.
  const [viewEnd, setViewEnd] = useState(() => Math.min(range.end, Date.now()));
  const view = useMemo(
    () => ({
      start: Math.max(range.start, viewEnd - Number(zoom)),
      end: Math.max(viewEnd, range.start + Number(zoom)),
    }),
    [range, viewEnd, zoom],
  );

  useEffect(() => {
    if (!cameraId && cameras.length) setCameraId(cameras[0].id);
  }, [cameras, cameraId]);

  const latest = useLatest();
  const load = useCallback(async () => {
    if (!cameraId) return;
    const newest = latest.begin();
    setError(null);
    const end = Math.min(range.end, Date.now());
    setViewEnd(end);
    try {
      const [t, list] = await Promise.all([
        api.recordings.getTimeline({
          cameraId,
          startTime: timestampFromMs(range.start),
          endTime: timestampFromMs(Math.max(range.start + 1000, end)),
        }),
        api.recordings.listRecordings({
          cameraId,
          startTime: timestampFromMs(range.start),
          endTime: timestampFromMs(range.end),
          pageSize: 1000,
        }),
      ]);
      if (!newest()) return;
      setTimeline(t);
      // Newest first: what an operator looks for is usually what just happened.
      setRecordings([...list.recordings].reverse());
      // Offer the last recorded minute as the clip, unless one is being typed.
      const last = t.spans.at(-1)?.endTime;
      if (last) {
        const lastMs = timestampDate(last).getTime();
        const firstMs = Math.max(
          timestampDate(t.spans.at(-1)!.startTime!).getTime(),
          lastMs - 60_000,
        );
        // Whole seconds inside the recorded span (the inputs have no milliseconds).
        setClipFrom((v) => v || clockAt(Math.ceil(firstMs / 1000) * 1000));
        setClipTo((v) => v || clockAt(Math.floor(lastMs / 1000) * 1000));
      }
    } catch (err) {
      if (!newest()) return;
      setTimeline(null);
      setRecordings([]);
      setError(err);
    }
  }, [api, cameraId, range, latest]);

  useEffect(() => {
    void load();
  }, [load]);

  // A new segment for this camera refreshes the timeline.
  const lastRecordingEvent = cameraId ? fleet.recordingRevisions.get(cameraId) : undefined;
  useEffect(() => {
    if (lastRecordingEvent !== undefined) void load();
  }, [lastRecordingEvent, load]);

  const play = async (from: number, to: number) => {
    if (!cameraId) return;
    try {
      const r = await api.recordings.getPlaybackUrl({
        cameraId,
        startTime: timestampFromMs(from),
        endTime: timestampFromMs(to),
      });
      setPlayUrl(r.url);
      setPlayFrom(from);
    } catch (err) {
      notifyError(err, "Cannot play");
    }
  };

  const spans: Interval[] = (timeline?.spans ?? []).map((s) => ({
    start: timestampDate(s.startTime!).getTime(),
    end: timestampDate(s.endTime!).getTime(),
  }));

  return (
    <Stack>
      <Title order={2}>Recordings</Title>
      <Group>
        <Select
          label="Camera"
          searchable
          w={260}
          value={cameraId}
          onChange={setCameraId}
          data-testid="recordings-camera"
          data={cameras.map((c) => ({ value: c.id, label: c.name }))}
        />
        <TextInput
          label="Day"
          type="date"
          value={day}
          onChange={(e) => setDay(e.currentTarget.value)}
          data-testid="recordings-day"
        />
        <SegmentedControl
          mt="lg"
          value={zoom}
          onChange={setZoom}
          data-testid="timeline-zoom"
          data={[
            { value: String(24 * 3600_000), label: "24 h" },
            { value: String(6 * 3600_000), label: "6 h" },
            { value: String(3600_000), label: "1 h" },
            { value: String(600_000), label: "10 min" },
          ]}
        />
        {timeline && (
          <Badge
            mt="lg"
            color={timeline.coverage >= 0.99 ? "teal" : "orange"}
            data-testid="coverage"
          >
            {(timeline.coverage * 100).toFixed(1)} % recorded
          </Badge>
        )}
      </Group>
      <ErrorAlert error={error} testId="recordings-error" />
      {timeline && (
        <TimelineBar
          timeline={timeline}
          range={view}
          nodeName={(id) => fleet.nodes.get(id)?.name ?? id}
          onPick={(ms) => {
            const from = playableFrom(ms, spans);
            if (from === undefined)
              notifyError(new Error("Nothing was recorded after that point."), "Nothing to play");
            else void play(from, Math.min(from + 24 * 3600_000, Date.now()));
          }}
        />
      )}
      <Group align="flex-start" grow>
        <RecordingPlayer url={playUrl} startedAt={playFrom} />
        <Card withBorder>
          <Stack gap="xs">
            <Title order={5}>Export a clip</Title>
            <Text size="xs" c="dimmed">
              Times on {day}, HH:MM:SS. At most 1 hour (unless configured otherwise). A range
              recorded on several nodes is assembled at one of them; a gap stays in the clip (the
              picture holds) and is named below.
            </Text>
            <Group grow>
              <TextInput
                label="From"
                placeholder="12:00:00"
                value={clipFrom}
                onChange={(e) => setClipFrom(e.currentTarget.value)}
                data-testid="clip-from"
              />
              <TextInput
                label="To"
                placeholder="12:05:00"
                value={clipTo}
                onChange={(e) => setClipTo(e.currentTarget.value)}
                data-testid="clip-to"
              />
            </Group>
            <Button
              disabled={!cameraId || !clipFrom || !clipTo}
              data-testid="clip-export"
              onClick={() =>
                void attempt(async () => {
                  setClipUrl(null);
                  setClipHoles([]);
                  const r = await api.recordings.exportClip({
                    cameraId: cameraId!,
                    startTime: timestampFromMs(atTimeOf(range.start, clipFrom)),
                    endTime: timestampFromMs(atTimeOf(range.start, clipTo)),
                  });
                  // The node assembles the clip on this first (one-byte) request; a busy node
                  // (429: too many exports at once) or a clip too long says why in a sentence.
                  const ready = await fetch(r.url, { headers: { Range: "bytes=0-0" } });
                  if (!ready.ok)
                    throw new Error(
                      (await ready.text()).trim() || `the node answered ${ready.status}`,
                    );
                  setClipHoles(
                    r.holes.map(
                      (h) =>
                        `${clock(timestampDate(h.startTime!).getTime())}–${clock(
                          timestampDate(h.endTime!).getTime(),
                        )} (${h.reason || "unknown"})`,
                    ),
                  );
                  setClipUrl(r.url);
                })
              }
            >
              Export MP4
            </Button>
            {clipUrl && (
              <Anchor href={clipUrl} download data-testid="clip-link">
                Download the clip
              </Anchor>
            )}
            {clipUrl && clipHoles.length > 0 && (
              <Text size="xs" c="orange" data-testid="clip-holes">
                Nothing was recorded {clipHoles.join(", ")}: the clip holds the picture across{" "}
                {clipHoles.length === 1 ? "that gap" : "those gaps"}.
              </Text>
            )}
          </Stack>
        </Card>
      </Group>
      <Table data-testid="recordings-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Start</Table.Th>
            <Table.Th>End</Table.Th>
            <Table.Th>Duration</Table.Th>
            <Table.Th>Size</Table.Th>
            <Table.Th>Tier</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {recordings.length === 0 && !error && (
            <Table.Tr>
              <Table.Td colSpan={6}>
                <Text c="dimmed">Nothing recorded on this day.</Text>
              </Table.Td>
            </Table.Tr>
          )}
          {recordings.map((r) => {
            const s = timestampDate(r.startTime!).getTime();
            const e = timestampDate(r.endTime!).getTime();
            return (
              <Table.Tr key={r.id} data-testid="recording-row">
                <Table.Td>
                  {clock(s)}
                  {r.recovered && (
                    <Badge ml="xs" size="xs" color="orange">
                      recovered
                    </Badge>
                  )}
                </Table.Td>
                <Table.Td>{clock(e)}</Table.Td>
                <Table.Td>
                  {r.duration ? `${(durationMs(r.duration) / 1000).toFixed(1)} s` : "—"}
                </Table.Td>
                <Table.Td>{formatBytes(r.sizeBytes)}</Table.Td>
                <Table.Td data-testid="recording-tier">
                  <Badge size="xs" variant="light" color={TIER_COLORS[r.tier] ?? "gray"}>
                    {TIER_NAMES[r.tier] ?? "unknown"}
                  </Badge>
                </Table.Td>
                <Table.Td>
                  <Group gap="xs" justify="flex-end">
                    <Button
                      size="xs"
                      variant="light"
                      data-testid="recording-play"
                      onClick={() => void play(s, e)}
                    >
                      Play
                    </Button>
                    <Button
                      size="xs"
                      variant="default"
                      data-testid="recording-download"
                      onClick={() =>
                        void attempt(async () => {
                          const u = await api.recordings.getDownloadUrl({ id: r.id });
                          window.open(u.url, "_blank", "noopener");
                        })
                      }
                    >
                      Download
                    </Button>
                    {abilities.can(Permission.RECORDINGS_WRITE) && (
                      <Button
                        size="xs"
                        variant="subtle"
                        color="red"
                        data-testid="recording-delete"
                        onClick={() =>
                          modals.openConfirmModal({
                            title: `Delete the segment ${clock(s)}–${clock(e)}?`,
                            children: (
                              <Text size="sm">
                                The file is removed from its node; the timeline shows a gap here.
                              </Text>
                            ),
                            labels: { confirm: "Delete", cancel: "Cancel" },
                            confirmProps: { color: "red" },
                            onConfirm: () =>
                              void attempt(async () => {
                                await api.recordings.deleteRecording({ id: r.id });
                                await load();
                              }, "Segment deleted."),
                          })
                        }
                      >
                        Delete
                      </Button>
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
