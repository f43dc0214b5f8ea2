// Which control-plane replica leads (runs placement and the liveness sweeper), from GetLeader,
// re-read every few seconds while the page is visible: a leader change shows without a reload.
import { useCallback, useEffect, useState } from "react";
import { Badge, Group, Text, Tooltip } from "@mantine/core";
import type { GetLeaderResponse } from "@camfleet/client/gen/camfleet/v1/node_pb.js";
import { describeError, isUnimplemented } from "../api/errors";
import { useApi } from "../auth/AuthContext";
import { formatAgo } from "../format";

const POLL_MS = 5000;

type State =
  | { kind: "loading" }
  | { kind: "leader"; leader: GetLeaderResponse }
  | { kind: "unsupported" }
  | { kind: "error"; sentence: string };

export function LeaderBadge() {
  const api = useApi();
  const [state, setState] = useState<State>({ kind: "loading" });

  const load = useCallback(async () => {
    try {
      setState({ kind: "leader", leader: await api.nodes.getLeader({}) });
    } catch (err) {
      setState(
        isUnimplemented(err)
          ? { kind: "unsupported" }
          : { kind: "error", sentence: describeError(err).sentence },
      );
    }
  }, [api]);

  useEffect(() => {
    void load();
    const t = window.setInterval(() => {
      if (document.visibilityState === "visible") void load();
    }, POLL_MS);
    return () => window.clearInterval(t);
  }, [load]);

  let body;
  if (state.kind === "loading") body = <Text size="sm">…</Text>;
  else if (state.kind === "unsupported")
    body = (
      <Text size="sm" c="dimmed">
        not reported by this server
      </Text>
    );
  else if (state.kind === "error")
    body = (
      <Text size="sm" c="red">
        {state.sentence}
      </Text>
    );
  else if (!state.leader.replicaId)
    body = (
      <Badge color="red" variant="light">
        no replica leads right now
      </Badge>
    );
  else
    body = (
      <Tooltip label={`Leader epoch ${state.leader.epoch}: it grows with every change of leader.`}>
        <Group gap={6}>
          <Badge variant="light" data-testid="leader-replica">
            {state.leader.replicaId}
          </Badge>
          <Text size="xs" c="dimmed">
            elected {formatAgo(state.leader.since)} · epoch {String(state.leader.epoch)}
          </Text>
        </Group>
      </Tooltip>
    );
  return (
    <Group gap={6} data-testid="leader" data-kind={state.kind}>
      <Text size="sm" fw={500}>
        Leader:
      </Text>
      {body}
    </Group>
  );
}
