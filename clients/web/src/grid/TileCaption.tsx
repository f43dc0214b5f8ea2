// The caption along the bottom of a live picture (a grid tile, the WebRTC view): the camera's
// status and name, and whatever the view adds on the right (e.g. the stream's size and rate).
import type { ReactNode } from "react";
import { Badge, Group, Text } from "@mantine/core";
import type { Camera } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { cameraStatusColor, cameraStatusLabel } from "../format";

export function TileCaption({ camera, children }: { camera: Camera; children?: ReactNode }) {
  return (
    <Group
      pos="absolute"
      bottom={0}
      left={0}
      right={0}
      px={6}
      py={3}
      gap={6}
      justify="space-between"
      wrap="nowrap"
      style={{ background: "linear-gradient(transparent, rgba(0,0,0,.75))" }}
    >
      <Group gap={6} wrap="nowrap">
        <Badge size="xs" color={cameraStatusColor(camera.status)}>
          {cameraStatusLabel(camera.status)}
        </Badge>
        <Text size="xs" c="white" truncate>
          {camera.name}
        </Text>
      </Group>
      {children}
    </Group>
  );
}
