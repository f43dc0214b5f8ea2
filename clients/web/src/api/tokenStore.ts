// Where the browser keeps the session's tokens: IndexedDB, shared by every tab of this origin,
// and never localStorage (older builds mirrored the 30-day refresh token there; it is removed
// on load). Tabs hear about each other's sign-in, sign-out and refreshes on a BroadcastChannel.
import type { TokenPair } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";
import { TokenPairSchema } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";
import type { RefreshLock, TokenStore } from "@camfleet/client/session.js";
import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { idbDelete, idbGet, idbPut } from "./idb";

export const STORAGE_KEY = "camfleet.tokens";
const CHANNEL = "camfleet.session";
const LOCK = "camfleet.refresh";

/** A key-value store every tab sees at once when a write commits (IndexedDB in the browser). */
export interface SharedKv {
  get(key: string): Promise<string | undefined>;
  put(key: string, value: string): Promise<unknown>;
  delete(key: string): Promise<unknown>;
}

const indexedDbKv: SharedKv = { get: idbGet, put: idbPut, delete: idbDelete };

/** Web Locks, BroadcastChannel and IndexedDB: what tabs need to share one session safely. */
export function canShare(): boolean {
  return (
    typeof navigator !== "undefined" &&
    "locks" in navigator &&
    typeof indexedDB !== "undefined" &&
    typeof BroadcastChannel !== "undefined"
  );
}

/**
 * Tokens shared by every tab of this origin, so a camera opened in a new tab is already signed
 * in. Refresh tokens rotate with reuse detection, so tabs take turns refreshing under a Web Lock
 * and hand the new pair over through IndexedDB: a committed transaction is visible to every tab
 * at once (localStorage syncs between Chromium's processes too late: a second tab presented a
 * used refresh token). Each tab keeps the pair in memory for the Session's synchronous reads,
 * loaded before the app renders (`ready`).
 *
 * Where Web Locks are missing (plain http on a non-local address is not a secure context), each
 * tab keeps its own session in sessionStorage instead: it survives a reload, ends with the tab.
 */
export class BrowserTokenStore implements TokenStore {
  /** Resolves once the stored session (if any) is loaded; `load()` is meaningful after it. */
  readonly ready: Promise<void>;
  private listeners = new Set<(loggedIn: boolean, otherTab: boolean) => void>();
  private memory: TokenPair | undefined;
  private channel: BroadcastChannel | undefined;
  // This tab's writes, in order: a sign-out right after a refresh must not be overtaken by it.
  private writes: Promise<unknown> = Promise.resolve();

  constructor(
    readonly shared: boolean = canShare(),
    private readonly kv: SharedKv = indexedDbKv,
  ) {
    forgetLegacyCopy();
    if (!shared) {
      this.memory = parse(sessionStorage.getItem(STORAGE_KEY));
      this.ready = Promise.resolve();
      return;
    }
    this.ready = this.kv.get(STORAGE_KEY).then(
      (raw) => {
        this.memory ??= parse(raw);
      },
      () => undefined,
    );
    this.channel = new BroadcastChannel(CHANNEL);
    this.channel.onmessage = () => void this.follow();
  }

  load(): TokenPair | undefined {
    return this.memory;
  }

  save(tokens: TokenPair | undefined): void {
    this.memory = tokens;
    const raw = tokens ? toJsonString(TokenPairSchema, tokens) : undefined;
    if (!this.shared) {
      if (raw) sessionStorage.setItem(STORAGE_KEY, raw);
      else sessionStorage.removeItem(STORAGE_KEY);
    } else {
      void this.persist(raw);
    }
    for (const l of this.listeners) l(tokens !== undefined, false);
  }

  /** Called whenever tokens appear or vanish, here (a failed refresh) or in another tab. */
  subscribe(listener: (loggedIn: boolean, otherTab: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stop hearing other tabs (tests; a page simply goes away). */
  close(): void {
    this.channel?.close();
  }

  /**
   * Refreshes take turns across tabs: under the lock, first catch up with what the previous
   * holder wrote, then refresh if still needed (Session compares), then make sure our result is
   * committed before the next tab goes.
   */
  readonly refreshLock: RefreshLock = async (fn) => {
    if (!this.shared) return fn();
    await navigator.locks.request(LOCK, async () => {
      await this.catchUp();
      await fn();
      await this.writes;
    });
  };

  /** Write the pair (or its absence) where every tab sees it, then tell them. */
  private persist(raw: string | undefined): Promise<unknown> {
    this.writes = this.writes
      .then(() => (raw ? this.kv.put(STORAGE_KEY, raw) : this.kv.delete(STORAGE_KEY)))
      .then(() => this.channel?.postMessage("changed"))
      .catch(() => undefined);
    return this.writes;
  }

  /** Adopt the shared pair if it is newer than ours. */
  private async catchUp(): Promise<void> {
    const latest = parse(await this.kv.get(STORAGE_KEY).catch(() => undefined));
    // Only a newer pair (a later expiry) wins: a write of ours may still be in flight, and an
    // old session's leftovers must never replace a fresh login.
    if (latest && expiry(latest) > expiry(this.memory)) this.memory = latest;
  }

  /** Another tab changed the session: follow a sign-in, a refresh or a sign-out. */
  private async follow(): Promise<void> {
    // Our own last write first: a sign-out heard just after we signed in must not read the
    // store before our new pair is in it.
    await this.writes;
    let stored: string | undefined;
    try {
      stored = await this.kv.get(STORAGE_KEY);
    } catch {
      return; // Unreadable now: the next message or refresh catches up.
    }
    const wasIn = this.memory !== undefined;
    const latest = parse(stored);
    if (!latest) this.memory = undefined;
    else if (expiry(latest) > expiry(this.memory)) this.memory = latest;
    const isIn = this.memory !== undefined;
    if (wasIn !== isIn) for (const l of this.listeners) l(isIn, true);
  }
}

/** Builds before this one kept the pair in localStorage too: remove that copy. */
function forgetLegacyCopy(): void {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // No localStorage (storage disabled): nothing was kept there either.
  }
}

function parse(raw: string | null | undefined): TokenPair | undefined {
  if (!raw) return undefined;
  try {
    return fromJsonString(TokenPairSchema, raw);
  } catch {
    return undefined;
  }
}

function expiry(tokens: TokenPair | undefined): number {
  return tokens?.accessTokenExpireTime ? timestampMs(tokens.accessTokenExpireTime) : 0;
}
