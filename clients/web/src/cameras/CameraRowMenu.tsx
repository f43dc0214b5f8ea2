// One camera row's menu on the cameras page: edit, publish URL, key rotation and delete (the
// last two confirmed first).
import { ActionIcon, Menu, Text } from "@mantine/core";
import { modals } from "@mantine/modals";
import type { Camera } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { useApi } from "../auth/AuthContext";

export function confirm(title: string, body: string, label: string, onConfirm: () => void) {
  modals.openConfirmModal({
    title,
    children: <Text size="sm">{body}</Text>,
    labels: { confirm: label, cancel: "Cancel" },
    confirmProps: { color: "red", "data-testid": "confirm" },
    onConfirm,
  });
}

export function CameraRowMenu({
  camera: c,
  onEdit,
  onPublishUrl,
  rowAction,
}: {
  camera: Camera;
  onEdit(): void;
  onPublishUrl(): void;
  rowAction(fn: () => Promise<unknown>, done: string): void;
}) {
  const api = useApi();
  return (
    <Menu position="bottom-end">
      <Menu.Target>
        <ActionIcon
          variant="subtle"
          aria-label={`Actions for ${c.name}`}
          data-testid="camera-actions"
        >
          ⋯
        </ActionIcon>
      </Menu.Target>
      <Menu.Dropdown>
        <Menu.Item onClick={onEdit} data-testid="camera-edit">
          Edit
        </Menu.Item>
        <Menu.Item onClick={onPublishUrl} data-testid="camera-publish-url">
          Copy RTMP URL
        </Menu.Item>
        <Menu.Item
          color="orange"
          data-testid="camera-rotate"
          onClick={() =>
            confirm(
              `Rotate the stream key of ${c.name}?`,
              "The old key stops working at once; the camera must be given the new URL.",
              "Rotate",
              () =>
                rowAction(
                  () => api.cameras.rotateStreamKey({ id: c.id }),
                  `New stream key for ${c.name}.`,
                ),
            )
          }
        >
          Rotate stream key
        </Menu.Item>
        <Menu.Item
          color="red"
          data-testid="camera-delete"
          onClick={() =>
            confirm(
              `Delete ${c.name}?`,
              "The camera and its stream key are removed.",
              "Delete",
              () => rowAction(() => api.cameras.deleteCamera({ id: c.id }), `${c.name} deleted.`),
            )
          }
        >
          Delete
        </Menu.Item>
      </Menu.Dropdown>
    </Menu>
  );
}
