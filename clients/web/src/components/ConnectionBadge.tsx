// The live feed's state, always visible: operators must know when what they see is stale.
import { Badge, Tooltip } from "@mantine/core";
import { describeError } from "../api/errors";
import type { WatchPhase } from "../watch/resume";

export function ConnectionBadge({ phase }: { phase: WatchPhase }) {
  switch (phase.kind) {
    case "live":
      return (
        <Badge color="teal" variant="dot" data-testid="watch-phase" data-phase="live">
          Live
        </Badge>
      );
    case "listing":
      return (
        <Badge color="gray" variant="dot" data-testid="watch-phase" data-phase="listing">
          Loading…
        </Badge>
      );
    case "reconnecting":
      return (
        <Tooltip label={describeError(phase.error).sentence}>
          <Badge color="orange" variant="dot" data-testid="watch-phase" data-phase="reconnecting">
            Reconnecting (attempt {phase.attempt})
          </Badge>
        </Tooltip>
      );
    default:
      return (
        <Badge color="gray" variant="dot" data-testid="watch-phase" data-phase="stopped">
          Stopped
        </Badge>
      );
  }
}
