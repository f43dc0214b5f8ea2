// Live view: a grid of 1, 4, 8, 16 or 32 tiles, paged, each a signed HLS stream.
import { useMemo } from "react";
import {
  Box,
  Group,
  Pagination,
  SegmentedControl,
  Stack,
  Switch,
  Text,
  Title,
} from "@mantine/core";
import { useSearchParams } from "react-router";
import { CameraStatus } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { HlsTile } from "../grid/HlsTile";
import { WebRtcView } from "../webrtc/WebRtcView";
import { gridShape, LAYOUTS, pageCount, pageItems, parseLayout } from "../grid/layout";
import { useFleet } from "../watch/FleetContext";

export default function LivePage() {
  const fleet = useFleet();
  const [params, setParams] = useSearchParams();
  const layout = parseLayout(params.get("layout") ?? localStorage.getItem("camfleet.layout"));
  const onlineOnly = params.get("online") === "1";
  const page = Number(params.get("page") ?? "1") - 1;

  const cameras = useMemo(
    () =>
      [...fleet.cameras.values()]
        .filter((c) => (c.active ?? true) && (!onlineOnly || c.status === CameraStatus.ONLINE))
        .sort((a, b) => a.name.localeCompare(b.name)),
    [fleet.cameras, onlineOnly],
  );
  const pages = pageCount(cameras.length, layout);
  const shown = pageItems(cameras, layout, page);
  const { columns } = gridShape(layout);

  const set = (k: string, v: string) => {
    const n = new URLSearchParams(params);
    n.set(k, v);
    if (k !== "page") n.set("page", "1");
    setParams(n, { replace: true });
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Live view</Title>
        <Group>
          <Switch
            label="Online only"
            checked={onlineOnly}
            onChange={(e) => set("online", e.currentTarget.checked ? "1" : "0")}
          />
          <SegmentedControl
            data-testid="layout-picker"
            value={String(layout)}
            data={LAYOUTS.map(String)}
            onChange={(v) => {
              localStorage.setItem("camfleet.layout", v);
              set("layout", v);
            }}
          />
        </Group>
      </Group>
      {cameras.length === 0 && <Text c="dimmed">No active cameras.</Text>}
      <Box
        data-testid="grid"
        data-layout={layout}
        style={{
          display: "grid",
          gridTemplateColumns: `repeat(${columns}, minmax(0, 1fr))`,
          gap: 6,
        }}
      >
        {shown.map((c) => (
          // Double-click: this camera alone (layout 1 on its page); double-click again: back to 4.
          <div
            key={c.id}
            onDoubleClick={() => {
              const n = new URLSearchParams(params);
              const index = cameras.indexOf(c);
              const next = layout === 1 ? 4 : 1;
              n.set("layout", String(next));
              n.set("page", String(Math.floor(index / next) + 1));
              setParams(n, { replace: true });
            }}
          >
            {layout === 1 ? (
              // One camera alone plays over WebRTC (sub-second), falling back to HLS by itself.
              <WebRtcView camera={c} stream={fleet.streams.get(c.id)} />
            ) : (
              <HlsTile camera={c} stream={fleet.streams.get(c.id)} />
            )}
          </div>
        ))}
      </Box>
      {pages > 1 && (
        <Pagination
          total={pages}
          value={Math.min(page + 1, pages)}
          onChange={(p) => set("page", String(p))}
        />
      )}
    </Stack>
  );
}
