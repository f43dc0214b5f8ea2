// How many alerts are firing, for the navigation and the dashboard: ListAlerts with
// `state = FIRING` (its total_size), read again whenever WatchEvents brings an ALERT_CHANGED
// (the shared fleet feed counts them), at most once a second. Without the feed (no cameras.read)
// a slow poll keeps it from going stale.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useRef,
  useState,
  type ReactNode,
} from "react";
import { Permission } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { useAuth } from "../auth/AuthContext";
import { useFleet } from "../watch/FleetContext";
import { FIRING_FILTER } from "./format";

const MIN_GAP_MS = 1000;
const FALLBACK_POLL_MS = 60_000;

/** null: not known (not allowed, or the server cannot say yet). */
const FiringContext = createContext<number | null>(null);

/** Re-run `load` when `version` changes, at most once per `gapMs` (the last change always
 * loads: the wait is anchored to the previous load, so a busy feed cannot starve it). */
export function useThrottledReload(load: () => void, version: unknown, gapMs = MIN_GAP_MS): void {
  const last = useRef(0);
  useEffect(() => {
    const wait = Math.max(0, last.current + gapMs - Date.now());
    const t = window.setTimeout(() => {
      last.current = Date.now();
      load();
    }, wait);
    return () => window.clearTimeout(t);
  }, [load, version, gapMs]);
}

export function FiringCountProvider({ children }: { children: ReactNode }) {
  const { api, abilities } = useAuth();
  const { alertVersion } = useFleet();
  const allowed = abilities.can(Permission.ALERTS_READ);
  const watched = abilities.can(Permission.CAMERAS_READ);
  const [count, setCount] = useState<number | null>(null);
  const seq = useRef(0);

  const refresh = useCallback(() => {
    const mine = ++seq.current;
    if (!allowed) {
      setCount(null);
      return;
    }
    api.alerts.listAlerts({ filter: FIRING_FILTER, pageSize: 1 }).then(
      (r) => mine === seq.current && setCount(r.totalSize),
      () => mine === seq.current && setCount(null),
    );
  }, [api, allowed]);
  useThrottledReload(refresh, alertVersion);

  useEffect(() => {
    if (!allowed || watched) return;
    const poll = window.setInterval(() => {
      if (document.visibilityState === "visible") refresh();
    }, FALLBACK_POLL_MS);
    return () => window.clearInterval(poll);
  }, [allowed, watched, refresh]);

  return <FiringContext.Provider value={count}>{children}</FiringContext.Provider>;
}

/** Alerts firing now, or null when unknown. */
export function useFiringCount(): number | null {
  return useContext(FiringContext);
}
