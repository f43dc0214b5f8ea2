// WhoAmI as the sign-in and the page's start ask it: an answer that is not about the session
// (the server restarting or busy, Envoy without a healthy replica, a network blip) is asked
// again after a growing pause. Only the server refusing the session ends it: signing a person
// out because one call failed told them "Your session has ended" when it had not.
import { Code } from "@connectrpc/connect";
import { refused } from "@camfleet/client/session.js";
import { asConnectError } from "../api/errors";
import type { WhoAmIResponse } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";

type Sleep = (ms: number) => Promise<void>;
const pause: Sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Pauses between tries: 0.5 s doubling to 4 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 4000);
}

/** Calls `ask` until it answers; an error `final` says is final, or the `tries`-th, is thrown. */
async function retrying<T>(
  ask: () => Promise<T>,
  tries: number,
  final: (err: unknown) => boolean,
  sleep: Sleep,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ask();
    } catch (err) {
      if (final(err) || attempt + 1 >= tries) throw err;
      await sleep(retryDelayMs(attempt));
    }
  }
}

/**
 * Calls `ask` until it answers or refuses the session; after `tries` failures of another kind
 * the last error is thrown (Infinity: never gives up).
 */
export function whoAmIUntilAnswered(
  ask: () => Promise<WhoAmIResponse>,
  tries: number,
  sleep: Sleep = pause,
): Promise<WhoAmIResponse> {
  return retrying(ask, tries, refused, sleep);
}

/**
 * Calls `ask` (the sign-in itself) again while the server cannot be reached (UNAVAILABLE:
 * Envoy without a healthy replica, a replica restarting, its database or Redis away for a
 * moment; or a fetch() that failed, as the connection dropped), `tries` times at most; any other error, such as a wrong password or too many
 * attempts, is thrown at once. The error's own sentence promised "it will be retried": the
 * sign-in showed it and stopped (CI, a loaded machine's Redis timing out).
 */
export function untilReached<T>(
  ask: () => Promise<T>,
  tries: number,
  sleep: Sleep = pause,
): Promise<T> {
  return retrying(ask, tries, (err) => asConnectError(err).code !== Code.Unavailable, sleep);
}
