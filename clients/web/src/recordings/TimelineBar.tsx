// The day's timeline: recorded spans in teal, gaps coloured by their cause (node lost, source
// error, recorder crash, disk full, camera stopped, unknown) with the nodes involved named, a
// legend of the causes, and the gaps in view listed in words (a tooltip alone is only for mice).
import { Box, Group, Stack, Text, Tooltip } from "@mantine/core";
import type { GetTimelineResponse } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import { timestampDate } from "./wkt";
import { instantAt, place, type Interval } from "./timeline";
import { describeGap, GAP_CAUSES, gapCauseInfo } from "../fleet/words";

const clock = (ms: number) => new Date(ms).toLocaleTimeString([], { hour12: false });
const LISTED_GAPS = 20;

export function TimelineBar({
  timeline,
  range,
  nodeName,
  onPick,
}: {
  timeline: GetTimelineResponse;
  range: Interval;
  nodeName(id: string): string;
  onPick(ms: number): void;
}) {
  const spans = place(
    timeline.spans.map((s) => ({
      start: timestampDate(s.startTime!).getTime(),
      end: timestampDate(s.endTime!).getTime(),
    })),
    range,
  );
  // Placed one by one so each keeps its own cause (place() drops those outside the view).
  const gaps = timeline.gaps.flatMap((g) => {
    const [p] = place(
      [{ start: timestampDate(g.startTime!).getTime(), end: timestampDate(g.endTime!).getTime() }],
      range,
    );
    return p
      ? [
          {
            ...p,
            info: gapCauseInfo(g.cause),
            words: describeGap(g.cause, g.nodeIds, g.reason, nodeName),
          },
        ]
      : [];
  });
  return (
    <Stack gap={2}>
      <Box
        pos="relative"
        h={28}
        bg="gray.2"
        style={{ borderRadius: 4, cursor: "pointer" }}
        data-testid="timeline"
        onClick={(e) => {
          const r = e.currentTarget.getBoundingClientRect();
          onPick(instantAt((e.clientX - r.left) / r.width, range));
        }}
      >
        {spans.map((s) => (
          <Tooltip key={`s${s.start}`} label={`Recorded ${clock(s.start)}–${clock(s.end)}`}>
            <Box
              pos="absolute"
              top={0}
              h="100%"
              bg="teal.6"
              style={{ left: `${s.left}%`, width: `max(${s.width}%, 2px)` }}
              data-testid="timeline-span"
            />
          </Tooltip>
        ))}
        {gaps.map((g, i) => (
          <Tooltip key={`g${i}`} label={`Gap ${clock(g.start)}–${clock(g.end)}: ${g.words}`}>
            <Box
              pos="absolute"
              top={0}
              h="100%"
              bg={g.info.color}
              opacity={0.9}
              style={{ left: `${g.left}%`, width: `max(${g.width}%, 3px)` }}
              data-testid="timeline-gap"
              data-cause={g.info.key}
              aria-label={g.words}
            />
          </Tooltip>
        ))}
      </Box>
      <Group justify="space-between">
        {[0, 0.25, 0.5, 0.75, 1].map((f) => (
          <Text key={f} size="xs" c="dimmed">
            {new Date(instantAt(f, range)).toLocaleTimeString([], {
              hour: "2-digit",
              minute: "2-digit",
              hour12: false,
            })}
          </Text>
        ))}
      </Group>
      <Group gap="md" data-testid="gap-legend">
        <Group gap={4}>
          <Box w={12} h={12} bg="teal.6" style={{ borderRadius: 2 }} />
          <Text size="xs">recorded</Text>
        </Group>
        {GAP_CAUSES.map((c) => (
          <Group key={c.key} gap={4} data-testid="gap-legend-item" data-cause={c.key}>
            <Box w={12} h={12} bg={c.color} style={{ borderRadius: 2 }} />
            <Text size="xs">{c.label}</Text>
          </Group>
        ))}
      </Group>
      {gaps.length > 0 && (
        <Stack gap={0} data-testid="gap-list">
          {gaps
            .slice(-LISTED_GAPS)
            .reverse()
            .map((g, i) => (
              <Group
                key={`l${i}`}
                gap={6}
                wrap="nowrap"
                data-testid="gap-row"
                data-cause={g.info.key}
              >
                <Box w={10} h={10} bg={g.info.color} style={{ borderRadius: 2, flex: "none" }} />
                <Text size="xs" c="dimmed" w={140}>
                  {clock(g.start)}–{clock(g.end)}
                </Text>
                <Text size="xs">{g.words}</Text>
              </Group>
            ))}
          {gaps.length > LISTED_GAPS && (
            <Text size="xs" c="dimmed">
              and {gaps.length - LISTED_GAPS} earlier gaps in view
            </Text>
          )}
        </Stack>
      )}
    </Stack>
  );
}
