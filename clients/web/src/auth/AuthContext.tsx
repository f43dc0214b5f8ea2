// Who is signed in, what they may do, and login/logout. WhoAmI is the source of both the user
// and the permissions, so navigation and edit controls follow the server's permission table.
import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from "react";
import type { User } from "@camfleet/client/gen/camfleet/v1/user_pb.js";
import type { Api } from "../api/client";
import { refused } from "@camfleet/client/session.js";
import { Abilities } from "./navigation";
import { untilReached, whoAmIUntilAnswered } from "./whoAmI";

// WhoAmI tries at sign-in: pauses of 0.5, 1, 2 and 4 s between them.
const SIGN_IN_TRIES = 5;

export interface AuthState {
  api: Api;
  /** undefined while the stored session is being checked. */
  user: User | null | undefined;
  abilities: Abilities;
  /** Set when the session ended without the person logging out (refresh refused, revoked). */
  endedNotice: string | null;
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ api, children }: { api: Api; children: ReactNode }) {
  const [user, setUser] = useState<User | null | undefined>(
    api.session.loggedIn ? undefined : null,
  );
  const [abilities, setAbilities] = useState(() => new Abilities([]));
  const [endedNotice, setEndedNotice] = useState<string | null>(null);
  const loggingOut = useRef(false);

  // Who is signed in. At the page's start WhoAmI is asked until it answers (the spinner stays
  // while the server is away); at sign-in a few times, then the login page says why.
  const loadMe = useCallback(
    async (tries: number) => {
      try {
        const me = await whoAmIUntilAnswered(() => api.auth.whoAmI({}), tries);
        setAbilities(new Abilities(me.permissions, me.user?.role));
        setUser(me.user ?? null);
      } catch (err) {
        if (refused(err)) {
          api.session.clear();
          setUser(null);
          return;
        }
        // The sign-in did not finish: forget its tokens without "your session has ended".
        loggingOut.current = true;
        api.session.clear();
        loggingOut.current = false;
        setUser(null);
        throw err;
      }
    },
    [api],
  );

  useEffect(() => {
    if (api.session.loggedIn) void loadMe(Infinity).catch(() => undefined);
    // A refresh that fails (session ended elsewhere, refresh token reused) clears the store:
    // go back to the login page.
    return api.store.subscribe((loggedIn, otherTab) => {
      if (loggedIn) {
        // Signed in from another tab: this one follows.
        if (otherTab) void loadMe(Infinity).catch(() => undefined);
        return;
      }
      if (!loggingOut.current) setEndedNotice("Your session has ended. Please sign in again.");
      setUser(null);
    });
  }, [api, loadMe]);

  const login = useCallback(
    async (username: string, password: string) => {
      await untilReached(() => api.session.login(username, password), SIGN_IN_TRIES);
      setEndedNotice(null);
      await loadMe(SIGN_IN_TRIES);
    },
    [api, loadMe],
  );

  const logout = useCallback(async () => {
    loggingOut.current = true;
    try {
      await api.auth.logout({});
    } catch {
      // The session may already be gone server-side; forgetting it locally is what matters.
    }
    api.session.clear();
    loggingOut.current = false;
  }, [api]);

  const value = useMemo(
    () => ({ api, user, abilities, endedNotice, login, logout }),
    [api, user, abilities, endedNotice, login, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error("useAuth outside AuthProvider");
  return ctx;
}

/** The API clients (inside a signed-in page). */
export function useApi(): Api {
  return useAuth().api;
}
