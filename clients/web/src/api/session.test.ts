// The shared Session's refresh, against the AuthService answering from an in-memory router
// (connect's own transport, the real client code): only the server's refusal of the refresh
// token ends the session; a refresh that could not be asked keeps the tokens for the next call.
import { describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { Session } from "@camfleet/client/session.js";
import { AuthService, TokenPairSchema } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";

function sessionWhoseRefreshAnswers(answer: () => never) {
  const transport = createRouterTransport(({ service }) => {
    service(AuthService, {
      login: () => ({
        tokens: create(TokenPairSchema, {
          accessToken: "a1",
          refreshToken: "r1",
          // Expiring within the Session's 30 s margin: the next call refreshes first.
          accessTokenExpireTime: timestampFromMs(Date.now() + 1000),
        }),
      }),
      refresh: answer,
      whoAmI: () => ({}),
    });
  });
  const session = new Session(transport);
  const authed = createClient(
    AuthService,
    createRouterTransport(
      ({ service }) => {
        service(AuthService, { whoAmI: () => ({}) });
      },
      { transport: { interceptors: [session.interceptor] } },
    ),
  );
  return { session, authed };
}

describe("Session refresh", () => {
  it("keeps the tokens when the server could not be asked", async () => {
    for (const code of [Code.Unavailable, Code.DeadlineExceeded, Code.Unknown]) {
      const { session, authed } = sessionWhoseRefreshAnswers(() => {
        throw new ConnectError("no healthy upstream", code);
      });
      await session.login("admin", "pw");
      await expect(authed.whoAmI({})).rejects.toMatchObject({ code });
      expect(session.loggedIn).toBe(true);
    }
  });

  it("ends the session when the server refuses the refresh token", async () => {
    const { session, authed } = sessionWhoseRefreshAnswers(() => {
      throw new ConnectError("refresh token is not valid; log in again", Code.Unauthenticated);
    });
    await session.login("admin", "pw");
    await expect(authed.whoAmI({})).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(session.loggedIn).toBe(false);
  });
});
