// Create or edit a camera. Field violations from the server are shown on their fields.
import { useState, type FormEvent } from "react";
import {
  Button,
  Group,
  Modal,
  SegmentedControl,
  Stack,
  Switch,
  TextInput,
  Textarea,
} from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import {
  CameraSchema,
  IngestMode,
  type Camera,
} from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { describeError } from "../api/errors";
import { useApi } from "../auth/AuthContext";
import { ErrorAlert } from "../components/feedback";

const labelsToText = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join("\n");

function textToLabels(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

export function CameraForm({
  camera,
  onClose,
  onSaved,
}: {
  camera: Camera | null;
  onClose(): void;
  onSaved(c: Camera): void;
}) {
  const api = useApi();
  const [name, setName] = useState(camera?.name ?? "");
  const [description, setDescription] = useState(camera?.description ?? "");
  const [location, setLocation] = useState(camera?.location ?? "");
  const [mode, setMode] = useState(camera?.ingestMode === IngestMode.PULL ? "pull" : "push");
  const [sourceUrl, setSourceUrl] = useState(camera?.sourceUrl ?? "");
  const [labels, setLabels] = useState(labelsToText(camera?.labels ?? {}));
  const [recording, setRecording] = useState(camera?.recordingEnabled ?? false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const violations = error ? describeError(error).violations : [];
  const fieldError = (f: string) => violations.find((v) => v.field.endsWith(f))?.description;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    const fields = create(CameraSchema, {
      id: camera?.id ?? "",
      name: name.trim(),
      description,
      location,
      ingestMode: mode === "pull" ? IngestMode.PULL : IngestMode.PUSH,
      sourceUrl: mode === "pull" ? sourceUrl.trim() : "",
      labels: textToLabels(labels),
      recordingEnabled: recording,
    });
    try {
      const saved = camera
        ? (
            await api.cameras.updateCamera({
              camera: fields,
              updateMask: create(FieldMaskSchema, {
                paths: [
                  "name",
                  "description",
                  "location",
                  "ingest_mode",
                  "source_url",
                  "labels",
                  "recording_enabled",
                ],
              }),
            })
          ).camera
        : (await api.cameras.createCamera({ camera: fields })).camera;
      if (saved) onSaved(saved);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={camera ? `Edit ${camera.name}` : "New camera"} size="lg">
      <form onSubmit={(e) => void submit(e)} data-testid="camera-form">
        <Stack>
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={fieldError("name")}
            data-testid="camera-name"
          />
          <TextInput
            label="Location"
            value={location}
            onChange={(e) => setLocation(e.currentTarget.value)}
            error={fieldError("location")}
          />
          <Textarea
            label="Description"
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
            error={fieldError("description")}
            autosize
            minRows={2}
          />
          <SegmentedControl
            value={mode}
            onChange={setMode}
            data={[
              { value: "push", label: "Camera pushes RTMP" },
              { value: "pull", label: "Node pulls a URL" },
            ]}
          />
          {mode === "pull" && (
            <TextInput
              label="Source URL"
              placeholder="rtsp://camera.local/stream"
              value={sourceUrl}
              onChange={(e) => setSourceUrl(e.currentTarget.value)}
              error={fieldError("source_url")}
            />
          )}
          <Textarea
            label="Labels"
            description="One key=value per line"
            value={labels}
            onChange={(e) => setLabels(e.currentTarget.value)}
            error={fieldError("labels")}
            autosize
            minRows={2}
          />
          <Switch
            label="Record"
            checked={recording}
            onChange={(e) => setRecording(e.currentTarget.checked)}
            data-testid="camera-recording"
          />
          <ErrorAlert error={error} testId="camera-form-error" />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} data-testid="camera-save">
              {camera ? "Save" : "Create camera"}
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
