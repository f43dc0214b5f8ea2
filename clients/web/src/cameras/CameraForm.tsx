// Create or edit a camera. A pull camera's source URL and node selector are checked here first
// (the mistake named before the round trip); field violations from the server are shown on
// their fields as sentences.
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
import { labelsToText as selectorToText, parseLabels, sameLabels } from "../fleet/labels";
import { sourceUrlProblem } from "../fleet/sourceUrl";

const MAX_SELECTOR = 16;

/** A server field violation as a sentence: "Source URL must be an absolute … URL." */
const asSentence = (label: string, description: string) =>
  `${label} ${description.trim().replace(/[.!?]?$/, ".")}`;

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
  const [selector, setSelector] = useState(selectorToText(camera?.nodeSelector ?? {}));
  // Client-side problems show once the person left the field or tried to save.
  const [checked, setChecked] = useState(false);
  const [recording, setRecording] = useState(camera?.recordingEnabled ?? false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  const violations = error ? describeError(error).violations : [];
  const fieldError = (f: string) => violations.find((v) => v.field.endsWith(f))?.description;
  const serverSays = (f: string, label: string) => {
    const v = violations.find((x) => x.field.includes(f));
    return v ? asSentence(label, v.description) : undefined;
  };
  const pull = mode === "pull";
  const urlProblem = pull ? sourceUrlProblem(sourceUrl) : null;
  const parsedSelector = parseLabels(selector, MAX_SELECTOR);
  const selectorProblem = pull ? parsedSelector.errors.join(" ") || null : null;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (urlProblem || selectorProblem) return;
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
      nodeSelector: pull ? parsedSelector.labels : {},
      recordingEnabled: recording,
    });
    // Only a changed selector goes in the mask: a server without node selectors still saves
    // every other edit.
    const selectorChanged = !sameLabels(fields.nodeSelector, camera?.nodeSelector ?? {});
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
                  ...(selectorChanged ? ["node_selector"] : []),
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
          {pull && (
            <>
              <TextInput
                label="Source URL"
                description="What the node pulls: rtsp://, rtsps://, rtmp://, rtmps://, http(s):// (HLS or MPEG-TS). Credentials go in user:password@; they are never shown to viewers."
                placeholder="rtsp://user:password@camera.local:554/stream"
                withAsterisk
                value={sourceUrl}
                onChange={(e) => setSourceUrl(e.currentTarget.value)}
                onBlur={() => sourceUrl && setChecked(true)}
                error={(checked && urlProblem) || serverSays("source_url", "The source URL")}
                data-testid="camera-source-url"
              />
              <Textarea
                label="Node selector"
                description="Place only on nodes with these labels: one key=value per line, e.g. site=north. Empty: any node."
                value={selector}
                onChange={(e) => setSelector(e.currentTarget.value)}
                error={
                  (checked && selectorProblem) || serverSays("node_selector", "The node selector:")
                }
                autosize
                minRows={1}
                data-testid="camera-node-selector-input"
              />
            </>
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
