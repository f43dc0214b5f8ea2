// Where a camera publishes: the RTMP URL with its key, shown on demand and copyable.
import { useEffect, useState } from "react";
import { Button, CopyButton, Group, Modal, Stack, Text, TextInput } from "@mantine/core";
import type { Camera } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { useApi } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";

export function PublishUrl({ camera, onClose }: { camera: Camera; onClose(): void }) {
  const api = useApi();
  const [url, setUrl] = useState<string>();
  const [error, setError] = useState<unknown>(null);

  useEffect(() => {
    api.cameras.getStreamUrls({ id: camera.id }).then((r) => setUrl(r.rtmpPublishUrl), setError);
  }, [api, camera.id]);

  return (
    <Modal opened onClose={onClose} title={`Publish to ${camera.name}`} size="lg">
      <Stack>
        <Text size="sm">
          Point the camera (or ffmpeg, OBS) at this URL. It contains the stream key: treat it like a
          password.
        </Text>
        <ErrorAlert error={error} />
        {url !== undefined && (
          <Group wrap="nowrap">
            <TextInput
              readOnly
              value={url}
              style={{ flex: 1 }}
              data-testid="publish-url"
              onFocus={(e) => e.currentTarget.select()}
            />
            <CopyButton value={url}>
              {({ copied, copy }) => (
                <Button
                  onClick={copy}
                  color={copied ? "teal" : undefined}
                  data-testid="copy-publish-url"
                >
                  {copied ? "Copied" : "Copy"}
                </Button>
              )}
            </CopyButton>
          </Group>
        )}
      </Stack>
    </Modal>
  );
}
