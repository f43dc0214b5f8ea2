// Edit a node's labels (what cameras' node selectors match): key=value lines checked here with
// the label syntax, then UpdateNode with update_mask "labels". The server's refusal is shown in
// its words; a server without UpdateNode says so instead of failing silently.
import { useState, type FormEvent } from "react";
import { Alert, Button, Group, List, Modal, Stack, Text, Textarea } from "@mantine/core";
import { create } from "@bufbuild/protobuf";
import { FieldMaskSchema } from "@bufbuild/protobuf/wkt";
import { NodeSchema, type Node } from "@camfleet/client/gen/camfleet/v1/node_pb.js";
import { useApi } from "../auth/AuthContext";
import { ErrorAlert, notifyDone } from "../components/feedback";
import { labelsToText, parseLabels } from "../fleet/labels";

export const MAX_NODE_LABELS = 32;

export function NodeLabelsEditor({
  node,
  onClose,
  onSaved,
}: {
  node: Node;
  onClose(): void;
  onSaved(n: Node): void;
}) {
  const api = useApi();
  const [text, setText] = useState(labelsToText(node.labels));
  const [checked, setChecked] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const { labels, errors } = parseLabels(text, MAX_NODE_LABELS);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setChecked(true);
    if (errors.length) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.nodes.updateNode({
        node: create(NodeSchema, { id: node.id, labels }),
        updateMask: create(FieldMaskSchema, { paths: ["labels"] }),
      });
      notifyDone(`${node.name}: labels saved.`);
      onSaved(r.node ?? create(NodeSchema, { ...node, labels }));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened onClose={onClose} title={`Labels of ${node.name}`}>
      <form onSubmit={(e) => void submit(e)} data-testid="node-labels-form">
        <Stack>
          <Text size="sm" c="dimmed">
            Pull cameras whose node selector asks for these pairs are placed here; cameras whose
            selector no longer matches move to another node.
          </Text>
          <Textarea
            label="Labels"
            description="One key=value per line, e.g. site=north"
            value={text}
            onChange={(e) => setText(e.currentTarget.value)}
            autosize
            minRows={3}
            data-testid="node-labels-input"
          />
          {checked && errors.length > 0 && (
            <Alert color="red" variant="light" data-testid="node-labels-problems">
              <List size="sm">
                {errors.map((p) => (
                  <List.Item key={p}>{p}</List.Item>
                ))}
              </List>
            </Alert>
          )}
          <ErrorAlert error={error} testId="node-labels-error" />
          <Group justify="flex-end">
            <Button variant="default" onClick={onClose}>
              Cancel
            </Button>
            <Button type="submit" loading={busy} data-testid="node-labels-save">
              Save labels
            </Button>
          </Group>
        </Stack>
      </form>
    </Modal>
  );
}
