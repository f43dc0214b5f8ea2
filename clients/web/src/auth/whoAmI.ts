// WhoAmI as the sign-in and the page's start ask it: an answer that is not about the session
// (the server restarting or busy, Envoy without a healthy replica, a network blip) is asked
// again after a growing pause. Only the server refusing the session ends it: signing a person
// out because one call failed told them "Your session has ended" when it had not.
import { refused } from "@camfleet/client/session.js";
import type { WhoAmIResponse } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";

/** Pauses between tries: 0.5 s doubling to 4 s. */
export function retryDelayMs(attempt: number): number {
  return Math.min(500 * 2 ** attempt, 4000);
}

/**
 * Calls `ask` until it answers or refuses the session; after `tries` failures of another kind
 * the last error is thrown (Infinity: never gives up).
 */
export async function whoAmIUntilAnswered(
  ask: () => Promise<WhoAmIResponse>,
  tries: number,
  sleep: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms)),
): Promise<WhoAmIResponse> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await ask();
    } catch (err) {
      if (refused(err) || attempt + 1 >= tries) throw err;
      await sleep(retryDelayMs(attempt));
    }
  }
}
