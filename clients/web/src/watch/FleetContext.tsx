// The app's live picture of the fleet: cameras and nodes listed once, then kept current by one
// WatchEvents stream shared by every page (runWatchLoop resumes it after drops and re-lists
// after compaction). Updates are batched so a busy fleet repaints a few times a second at most.
import {
  createContext,
  useContext,
  useEffect,
  useMemo,
  useSyncExternalStore,
  type ReactNode,
} from "react";
import type { Camera } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import type { Node } from "@camfleet/client/gen/camfleet/v1/node_pb.js";
import type { StreamStatus } from "@camfleet/client/gen/camfleet/v1/stream_pb.js";
import { EventType, type Event } from "@camfleet/client/gen/camfleet/v1/event_pb.js";
import type { Api } from "../api/client";
import { useAuth } from "../auth/AuthContext";
import { runWatchLoop, type WatchPhase } from "./resume";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";

const RECENT_LIMIT = 50;
const NODE_POLL_MS = 5000;

export interface FleetSnapshot {
  cameras: ReadonlyMap<string, Camera>;
  nodes: ReadonlyMap<string, Node>;
  streams: ReadonlyMap<string, StreamStatus>;
  /** Newest first, bookmarks and metric updates left out. */
  recent: readonly Event[];
  phase: WatchPhase;
  /** Events received on the stream since the page loaded (bookmarks included). */
  received: number;
  /** Bumped on every camera change, so lists that filter server-side know to reload. */
  cameraVersion: number;
  /** Per camera, the revision of its newest RECORDING_ADDED: the recordings page reloads on it. */
  recordingRevisions: ReadonlyMap<string, bigint>;
  /** Per camera, the revision of its newest CAMERA_PLACED: its placement history reloads on it. */
  placementRevisions: ReadonlyMap<string, bigint>;
  /** Bumped on every ALERT_CHANGED: the firing count and the alert list reload on it. */
  alertVersion: number;
}

// Frequent, machine-level events stay out of the "recent events" list people read.
const NOT_RECENT = new Set([
  EventType.BOOKMARK,
  EventType.STREAM_UPDATED,
  EventType.RECORDING_ADDED,
]);

/** Mutable state behind an immutable snapshot for React. */
class FleetStore {
  private cameras = new Map<string, Camera>();
  private nodes = new Map<string, Node>();
  private streams = new Map<string, StreamStatus>();
  private recent: Event[] = [];
  private phase: WatchPhase = { kind: "listing" };
  private received = 0;
  private cameraVersion = 0;
  private recordingRevisions = new Map<string, bigint>();
  private placementRevisions = new Map<string, bigint>();
  private alertVersion = 0;
  private snapshot: FleetSnapshot = this.build();
  private listeners = new Set<() => void>();
  private scheduled = false;

  subscribe = (l: () => void) => {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  };

  getSnapshot = () => this.snapshot;

  async list(api: Api, canNodes: boolean, canStreams: boolean): Promise<bigint> {
    // Nodes and streams first, cameras last: the cameras' revision is where the watch starts,
    // so anything that changed while listing arrives as an event.
    const nodes = canNodes ? (await api.nodes.listNodes({ pageSize: 1000 })).nodes : [];
    const streams = canStreams ? (await api.streams.listStreams({})).streams : [];
    const cameras: Camera[] = [];
    let revision = 0n;
    let pageToken = "";
    do {
      const page = await api.cameras.listCameras({ pageSize: 1000, pageToken, orderBy: "name" });
      cameras.push(...page.cameras);
      if (!pageToken) revision = page.revision;
      pageToken = page.nextPageToken;
    } while (pageToken);
    this.cameras = new Map(cameras.map((c) => [c.id, c]));
    this.nodes = new Map(nodes.map((n) => [n.id, n]));
    this.streams = new Map(streams.map((s) => [s.cameraId, s]));
    this.cameraVersion++;
    this.alertVersion++; // a re-list (after compaction) may have missed alert events
    this.changed();
    return revision;
  }

  apply(e: Event): void {
    this.received++;
    const r = e.resource;
    if (e.type === EventType.ALERT_CHANGED) this.alertVersion++;
    switch (e.type) {
      case EventType.CAMERA_DELETED:
        if (r.case === "camera") this.cameras.delete(r.value.id);
        this.cameraVersion++;
        break;
      case EventType.NODE_DELETED:
        if (r.case === "node") this.nodes.delete(r.value.id);
        break;
      default:
        if (r.case === "camera") {
          this.cameras.set(r.value.id, r.value);
          this.cameraVersion++;
        } else if (r.case === "node") this.nodes.set(r.value.id, r.value);
        else if (r.case === "stream") this.streams.set(r.value.cameraId, r.value);
        else if (r.case === "recording") this.recordingRevisions.set(r.value.cameraId, e.revision);
        else if (r.case === "placement") this.placementRevisions.set(r.value.cameraId, e.revision);
    }
    if (!NOT_RECENT.has(e.type)) {
      this.recent = [e, ...this.recent].slice(0, RECENT_LIMIT);
    }
    this.changed();
  }

  /** Node health (CPU, memory, disk, stream count) travels in heartbeats, not events: re-read it. */
  async refreshNodes(api: Api): Promise<void> {
    const nodes = (await api.nodes.listNodes({ pageSize: 1000 })).nodes;
    this.nodes = new Map(nodes.map((n) => [n.id, n]));
    this.changed();
  }

  /** A node as a call just returned it (an edit shows at once, before its event arrives). */
  putNode = (node: Node): void => {
    this.nodes.set(node.id, node);
    this.changed();
  };

  setPhase(p: WatchPhase): void {
    this.phase = p;
    this.changed();
  }

  private build(): FleetSnapshot {
    return {
      cameras: new Map(this.cameras),
      nodes: new Map(this.nodes),
      streams: new Map(this.streams),
      recent: this.recent,
      phase: this.phase,
      received: this.received,
      cameraVersion: this.cameraVersion,
      recordingRevisions: new Map(this.recordingRevisions),
      placementRevisions: new Map(this.placementRevisions),
      alertVersion: this.alertVersion,
    };
  }

  private changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setTimeout(() => {
      this.scheduled = false;
      this.snapshot = this.build();
      for (const l of this.listeners) l();
    }, 100);
  }
}

const FleetContext = createContext<FleetStore | null>(null);

export function FleetProvider({ children }: { children: ReactNode }) {
  const { api, abilities } = useAuth();
  const store = useMemo(() => new FleetStore(), []);
  const canNodes = abilities.can(Permission.NODES_READ);
  const canStreams = abilities.can(Permission.STREAMS_READ);
  const enabled = abilities.can(Permission.CAMERAS_READ);

  useEffect(() => {
    if (!enabled) return;
    const ctrl = new AbortController();
    void runWatchLoop<Event>(
      {
        list: () => store.list(api, canNodes, canStreams),
        watch: async function* (afterRevision, signal) {
          for await (const resp of api.events.watchEvents({ afterRevision }, { signal })) {
            if (resp.event) yield resp.event;
          }
        },
        onEvent: (e) => store.apply(e),
        onPhase: (p) => store.setPhase(p),
      },
      ctrl.signal,
    );
    const poll = canNodes
      ? window.setInterval(() => {
          if (document.visibilityState === "visible")
            store.refreshNodes(api).catch(() => undefined);
        }, NODE_POLL_MS)
      : undefined;
    return () => {
      ctrl.abort();
      window.clearInterval(poll);
    };
  }, [api, store, canNodes, canStreams, enabled]);

  return <FleetContext.Provider value={store}>{children}</FleetContext.Provider>;
}

/** Write access to the fleet picture, for pages that just changed something. */
export function useFleetUpdates(): { putNode(node: Node): void } {
  const store = useContext(FleetContext);
  if (!store) throw new Error("useFleetUpdates outside FleetProvider");
  return store;
}

export function useFleet(): FleetSnapshot {
  const store = useContext(FleetContext);
  if (!store) throw new Error("useFleet outside FleetProvider");
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
