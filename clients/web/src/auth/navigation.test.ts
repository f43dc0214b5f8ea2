import { describe, expect, it } from "vitest";
import { Role } from "@camfleet/client/gen/camfleet/v1/common_pb.js";
import { Abilities } from "./navigation";

// What WhoAmI reports per role (server/auth/permissions.py); the browser tests check the real one.
const VIEWER = ["cameras.read", "streams.read", "recordings.read"];
const OPERATOR = [...VIEWER, "cameras.write", "stream_keys.read", "recordings.write", "alerts.read", "alerts.write"];
const ADMIN = [...OPERATOR, "nodes.read", "nodes.write", "users.read", "users.write", "api_tokens.read", "api_tokens.write", "audit.read"];

const labels = (a: Abilities) => a.navigation().map((n) => n.label);

describe("role → navigation", () => {
  it("gives a viewer the read pages and no edit rights", () => {
    const viewer = new Abilities(VIEWER, Role.VIEWER);
    expect(labels(viewer)).toEqual(["Dashboard", "Cameras", "Live view", "Recordings"]);
    expect(viewer.can("cameras.write")).toBe(false);
    expect(viewer.home()).toBe("/dashboard");
  });

  it("gives an operator camera editing but no administration", () => {
    const op = new Abilities(OPERATOR, Role.OPERATOR);
    expect(labels(op)).toEqual(["Dashboard", "Cameras", "Live view", "Recordings"]);
    expect(op.can("cameras.write")).toBe(true);
    expect(op.can("users.read")).toBe(false);
  });

  it("gives an admin users, tokens, nodes and audit", () => {
    expect(labels(new Abilities(ADMIN, Role.ADMIN))).toEqual([
      "Dashboard", "Cameras", "Live view", "Recordings", "Nodes", "Users", "API tokens", "Audit log",
    ]);
  });

  it("follows an API token's narrowed scopes, not its role", () => {
    const token = new Abilities(["audit.read"], Role.API);
    expect(labels(token)).toEqual(["Audit log"]);
    expect(token.home()).toBe("/audit");
    expect(new Abilities([], Role.API).home()).toBe("/account");
  });
});
