import {
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { AuthService, type TokenPair } from "./gen/camfleet/v1/auth_pb.js";

/** Whether the server refused a session's credentials (as opposed to not being reached). */
export function refused(err: unknown): boolean {
  const code = ConnectError.from(err).code;
  return (
    code === Code.Unauthenticated || code === Code.PermissionDenied || code === Code.InvalidArgument
  );
}

/** Where a session keeps its tokens (memory by default; the browser UI shares them through IndexedDB). */
export interface TokenStore {
  load(): TokenPair | undefined;
  save(tokens: TokenPair | undefined): void;
}

class MemoryStore implements TokenStore {
  private tokens: TokenPair | undefined;
  load() {
    return this.tokens;
  }
  save(tokens: TokenPair | undefined) {
    this.tokens = tokens;
  }
}

/**
 * Runs `fn` while holding a lock shared with every other holder of the same tokens (browser tabs
 * sharing one store use the Web Locks API). Refresh tokens rotate with reuse detection, so two
 * holders must never present the same one: the second waits, then finds the new pair.
 */
export type RefreshLock = (fn: () => Promise<void>) => Promise<void>;

/**
 * A logged-in session. `interceptor` adds the access token to every call and, when the token is
 * about to expire or a call fails UNAUTHENTICATED, refreshes once (single-flight) and retries.
 */
export class Session {
  private refreshing: Promise<void> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly store: TokenStore = new MemoryStore(),
    private readonly lock: RefreshLock = (fn) => fn(),
  ) {}

  /** Log in with a password and keep the tokens. */
  async login(username: string, password: string): Promise<void> {
    const auth = createClient(AuthService, this.transport);
    const resp = await auth.login({ username, password });
    this.store.save(resp.tokens);
  }

  /** Use an API token instead of a password session. */
  useApiToken(secret: string): void {
    this.store.save({
      $typeName: "camfleet.v1.TokenPair",
      accessToken: secret,
      refreshToken: "",
      tokenType: "Bearer",
    });
  }

  /** Forget the tokens locally (call AuthService.Logout first to end the session server-side). */
  clear(): void {
    this.store.save(undefined);
  }

  get loggedIn(): boolean {
    return this.store.load() !== undefined;
  }

  readonly interceptor: Interceptor = (next) => async (req) => {
    if (this.expiresSoon()) await this.refresh();
    const token = this.store.load()?.accessToken;
    if (token) req.header.set("authorization", `Bearer ${token}`);
    try {
      return await next(req);
    } catch (err) {
      const canRetry =
        ConnectError.from(err).code === Code.Unauthenticated && this.store.load()?.refreshToken;
      if (!canRetry || req.stream) throw err;
      await this.refresh();
      req.header.set("authorization", `Bearer ${this.store.load()?.accessToken ?? ""}`);
      return await next(req);
    }
  };

  private expiresSoon(): boolean {
    const tokens = this.store.load();
    if (!tokens?.refreshToken || !tokens.accessTokenExpireTime) return false;
    return timestampDate(tokens.accessTokenExpireTime).getTime() - Date.now() < 30_000;
  }

  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      const stale = this.store.load()?.refreshToken ?? "";
      try {
        await this.lock(async () => {
          // Another holder of the store may have refreshed while we waited: use its pair.
          const current = this.store.load();
          if (current?.refreshToken !== stale) {
            if (!current) throw new ConnectError("the session has ended", Code.Unauthenticated);
            return;
          }
          const auth = createClient(AuthService, this.transport);
          const resp = await auth.refresh({ refreshToken: stale });
          this.store.save(resp.tokens);
        });
      } catch (err) {
        // Only the server's refusal ends the session. A refresh that could not be asked (the
        // server restarting, a network blip, a deadline) keeps the tokens: the call fails with
        // its own error, and the next call tries the refresh again.
        if (refused(err)) this.store.save(undefined);
        throw err;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }
}
