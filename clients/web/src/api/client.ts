// One grpc-web transport to the page's own origin (Envoy serves the UI and the API on one port),
// the shared Session from clients/typescript for auth and silent refresh, and typed clients.
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { Session, type RefreshLock, type TokenStore } from "@camfleet/client/session.js";
import type { TokenPair } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";
import { AuthService, TokenPairSchema } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";
import { ApiTokenService } from "@camfleet/client/gen/camfleet/v1/api_token_pb.js";
import { AuditService } from "@camfleet/client/gen/camfleet/v1/audit_pb.js";
import { CameraService } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { EventService } from "@camfleet/client/gen/camfleet/v1/event_pb.js";
import { NodeService } from "@camfleet/client/gen/camfleet/v1/node_pb.js";
import { RecordingService } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import { StreamService } from "@camfleet/client/gen/camfleet/v1/stream_pb.js";
import { UserService } from "@camfleet/client/gen/camfleet/v1/user_pb.js";
import { fromJsonString, toJsonString } from "@bufbuild/protobuf";
import { idbDelete, idbGet, idbPut } from "./idb";
import { timestampMs } from "@bufbuild/protobuf/wkt";

const STORAGE_KEY = "camfleet.tokens";

/**
 * Tokens shared by every tab of this origin, so a camera opened in a new tab is already signed
 * in. Refresh tokens rotate with reuse detection, so tabs take turns refreshing under a Web Lock
 * and hand the new pair over through IndexedDB (see idb.ts); localStorage mirrors it for fast
 * reads and tells other tabs about sign-in and sign-out. Where Web Locks are missing (plain http
 * on a non-local address is not a secure context), each tab keeps its own session instead.
 */
export class BrowserTokenStore implements TokenStore {
  private listeners = new Set<(loggedIn: boolean, otherTab: boolean) => void>();
  private readonly storage: Storage;
  private memory: TokenPair | undefined;

  constructor(readonly shared: boolean = typeof navigator !== "undefined" && "locks" in navigator && "indexedDB" in window) {
    this.storage = shared ? localStorage : sessionStorage;
    this.memory = this.parse(this.storage.getItem(STORAGE_KEY));
    if (shared) {
      window.addEventListener("storage", (e) => {
        if (e.key !== STORAGE_KEY) return;
        const wasIn = this.memory !== undefined;
        this.memory = this.parse(e.newValue);
        if (wasIn !== (this.memory !== undefined)) for (const l of this.listeners) l(this.memory !== undefined, true);
      });
    }
  }

  private parse(raw: string | null | undefined): TokenPair | undefined {
    if (!raw) return undefined;
    try {
      return fromJsonString(TokenPairSchema, raw);
    } catch {
      return undefined;
    }
  }

  load(): TokenPair | undefined {
    return this.memory;
  }

  save(tokens: TokenPair | undefined): void {
    this.memory = tokens;
    const raw = tokens ? toJsonString(TokenPairSchema, tokens) : undefined;
    if (raw) this.storage.setItem(STORAGE_KEY, raw);
    else this.storage.removeItem(STORAGE_KEY);
    if (this.shared) void (raw ? idbPut(STORAGE_KEY, raw) : idbDelete(STORAGE_KEY)).catch(() => undefined);
    for (const l of this.listeners) l(tokens !== undefined, false);
  }

  /** Called whenever tokens appear or vanish, here (a failed refresh) or in another tab. */
  subscribe(listener: (loggedIn: boolean, otherTab: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Refreshes take turns across tabs: under the lock, first catch up with what the previous
   * holder wrote (IndexedDB, consistent across tabs), then refresh if still needed (Session
   * compares), then make sure our result is committed before the next tab goes.
   */
  readonly refreshLock: RefreshLock = async (fn) => {
    if (!this.shared) return fn();
    await navigator.locks.request("camfleet.refresh", async () => {
      const latest = this.parse(await idbGet(STORAGE_KEY).catch(() => undefined));
      // Only a newer pair (a later expiry) wins: a write of ours may still be in flight, and an
      // old session's leftovers must never replace a fresh login.
      if (latest && expiry(latest) > expiry(this.memory)) this.memory = latest;
      await fn();
      const raw = this.memory ? toJsonString(TokenPairSchema, this.memory) : undefined;
      await (raw ? idbPut(STORAGE_KEY, raw) : idbDelete(STORAGE_KEY));
    });
  };
}

function expiry(tokens: TokenPair | undefined): number {
  return tokens?.accessTokenExpireTime ? timestampMs(tokens.accessTokenExpireTime) : 0;
}

/** Everything the pages need to talk to the API. */
export interface Api {
  session: Session;
  store: BrowserTokenStore;
  transport: Transport;
  auth: Client<typeof AuthService>;
  users: Client<typeof UserService>;
  tokens: Client<typeof ApiTokenService>;
  audit: Client<typeof AuditService>;
  cameras: Client<typeof CameraService>;
  events: Client<typeof EventService>;
  nodes: Client<typeof NodeService>;
  streams: Client<typeof StreamService>;
  recordings: Client<typeof RecordingService>;
}

/** Build the API for `baseUrl` (the page's origin in production). */
export function createApi(baseUrl: string = window.location.origin): Api {
  const store = new BrowserTokenStore();
  // The session refreshes over a bare transport (no auth interceptor, so no recursion).
  const session = new Session(createGrpcWebTransport({ baseUrl }), store, store.refreshLock);
  const transport = createGrpcWebTransport({ baseUrl, interceptors: [session.interceptor] });
  const c = <S extends DescService>(s: S) => createClient(s, transport);
  return {
    session,
    store,
    transport,
    auth: c(AuthService),
    users: c(UserService),
    tokens: c(ApiTokenService),
    audit: c(AuditService),
    cameras: c(CameraService),
    events: c(EventService),
    nodes: c(NodeService),
    streams: c(StreamService),
    recordings: c(RecordingService),
  };
}
