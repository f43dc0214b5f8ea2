// The token store as two tabs of one browser use it: real BroadcastChannels between them, a
// shared key-value store standing in for IndexedDB (the browser tests run the real one), a
// first-come lock standing in for Web Locks, and a localStorage that must stay empty.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { TokenPairSchema, type TokenPair } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";
import { BrowserTokenStore, STORAGE_KEY, type SharedKv } from "./tokenStore";

class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string) {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string) {
    this.items.set(key, value);
  }
  removeItem(key: string) {
    this.items.delete(key);
  }
}

class MemoryKv implements SharedKv {
  readonly items = new Map<string, string>();
  async get(key: string) {
    return this.items.get(key);
  }
  async put(key: string, value: string) {
    this.items.set(key, value);
  }
  async delete(key: string) {
    this.items.delete(key);
  }
}

/** Web Locks' guarantee, for one lock name: holders run one at a time, in request order. */
function firstComeLock() {
  let tail: Promise<unknown> = Promise.resolve();
  return {
    request(_name: string, fn: () => Promise<void>) {
      const run = tail.then(fn);
      tail = run.catch(() => undefined);
      return run;
    },
  };
}

function pair(refreshToken: string, expiresInMs: number): TokenPair {
  return create(TokenPairSchema, {
    accessToken: `access-for-${refreshToken}`,
    refreshToken,
    tokenType: "Bearer",
    accessTokenExpireTime: timestampFromMs(Date.now() + expiresInMs),
  });
}

let local: MemoryStorage;
let kv: MemoryKv;
const tabs: BrowserTokenStore[] = [];

function openTab(): BrowserTokenStore {
  const tab = new BrowserTokenStore(true, kv);
  tabs.push(tab);
  return tab;
}

beforeEach(() => {
  local = new MemoryStorage();
  kv = new MemoryKv();
  vi.stubGlobal("localStorage", local);
  vi.stubGlobal("navigator", { locks: firstComeLock() });
});

afterEach(() => {
  for (const tab of tabs.splice(0)) tab.close();
  vi.unstubAllGlobals();
});

describe("BrowserTokenStore", () => {
  it("removes the refresh token older builds left in localStorage and never writes one", async () => {
    const old = pair("old-refresh", 60_000);
    local.setItem(STORAGE_KEY, JSON.stringify({ refreshToken: old.refreshToken }));
    const tab = openTab();
    await tab.ready;
    expect(local.items.size).toBe(0);
    // The leftover is not a session either: only the shared store is.
    expect(tab.load()).toBeUndefined();

    tab.save(pair("new-refresh", 60_000));
    await vi.waitFor(() => expect(kv.items.get(STORAGE_KEY)).toContain("new-refresh"));
    expect(local.items.size).toBe(0);
  });

  it("opens a second tab already signed in", async () => {
    const first = openTab();
    await first.ready;
    first.save(pair("r1", 60_000));
    await vi.waitFor(() => expect(kv.items.has(STORAGE_KEY)).toBe(true));

    const second = openTab();
    await second.ready;
    expect(second.load()?.refreshToken).toBe("r1");
  });

  it("follows another tab's sign-in, refresh and sign-out", async () => {
    const a = openTab();
    const b = openTab();
    await Promise.all([a.ready, b.ready]);
    const heard: Array<[boolean, boolean]> = [];
    b.subscribe((loggedIn, otherTab) => heard.push([loggedIn, otherTab]));

    a.save(pair("r1", 60_000));
    await vi.waitFor(() => expect(b.load()?.refreshToken).toBe("r1"));
    expect(heard).toEqual([[true, true]]);

    a.save(pair("r2", 120_000)); // a refresh: same session, a later expiry
    await vi.waitFor(() => expect(b.load()?.refreshToken).toBe("r2"));
    expect(heard).toEqual([[true, true]]);

    a.save(undefined);
    await vi.waitFor(() => expect(b.load()).toBeUndefined());
    expect(heard).toEqual([
      [true, true],
      [false, true],
    ]);
  });

  it("never lets an older pair replace a newer one", async () => {
    const a = openTab();
    const b = openTab();
    await Promise.all([a.ready, b.ready]);
    b.save(pair("fresh", 120_000));
    await vi.waitFor(() => expect(a.load()?.refreshToken).toBe("fresh"));

    a.save(pair("stale", 60_000));
    await vi.waitFor(() => expect(kv.items.get(STORAGE_KEY)).toContain("stale"));
    await new Promise((r) => setTimeout(r, 50)); // let b hear it
    expect(b.load()?.refreshToken).toBe("fresh");
  });

  it("hands a refreshed pair to the next tab that takes the lock", async () => {
    const a = openTab();
    const b = openTab();
    await Promise.all([a.ready, b.ready]);
    a.save(pair("r1", 10_000));
    await vi.waitFor(() => expect(b.load()?.refreshToken).toBe("r1"));
    b.close(); // b misses the broadcast: only the lock's catch-up can tell it

    let seenByB: string | undefined;
    await Promise.all([
      a.refreshLock(async () => a.save(pair("r2", 60_000))),
      b.refreshLock(async () => {
        seenByB = b.load()?.refreshToken;
      }),
    ]);
    expect(seenByB).toBe("r2");
  });
});
