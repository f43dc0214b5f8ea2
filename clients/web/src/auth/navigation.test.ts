import { describe, expect, it } from "vitest";
import { Role } from "@camfleet/client/gen/camfleet/v1/common_pb.js";
import { Permission, PermissionSchema } from "@camfleet/client/gen/camfleet/v1/permission_pb.js";
import { Abilities, permissionName } from "./navigation";

// What WhoAmI reports per role (server/auth/permissions.py); the browser tests check the real one.
const P = Permission;
const names = (...ps: Permission[]) => ps.map(permissionName);
const VIEWER = names(P.CAMERAS_READ, P.STREAMS_READ, P.RECORDINGS_READ, P.ANALYTICS_READ);
const OPERATOR = [
  ...VIEWER,
  ...names(
    P.CAMERAS_WRITE,
    P.STREAM_KEYS_READ,
    P.RECORDINGS_WRITE,
    P.ALERTS_READ,
    P.ALERTS_WRITE,
    P.ANALYTICS_WRITE,
  ),
];
const ADMIN = [
  ...OPERATOR,
  ...names(
    P.NODES_READ,
    P.NODES_WRITE,
    P.USERS_READ,
    P.USERS_WRITE,
    P.API_TOKENS_READ,
    P.API_TOKENS_WRITE,
    P.AUDIT_READ,
    P.SETTINGS_READ,
    P.SETTINGS_WRITE,
  ),
];

const labels = (a: Abilities) => a.navigation().map((n) => n.label);

describe("role → navigation", () => {
  it("gives a viewer the read pages and no edit rights", () => {
    const viewer = new Abilities(VIEWER, Role.VIEWER);
    expect(labels(viewer)).toEqual([
      "Dashboard",
      "Cameras",
      "Live view",
      "Recordings",
      "Analytics",
      "Storage",
    ]);
    expect(viewer.can(Permission.CAMERAS_WRITE)).toBe(false);
    expect(viewer.home()).toBe("/dashboard");
  });

  it("gives an operator camera editing but no administration", () => {
    const op = new Abilities(OPERATOR, Role.OPERATOR);
    expect(labels(op)).toEqual([
      "Dashboard",
      "Cameras",
      "Live view",
      "Recordings",
      "Alerts",
      "Analytics",
      "Storage",
    ]);
    expect(op.can(Permission.CAMERAS_WRITE)).toBe(true);
    expect(op.can(Permission.USERS_READ)).toBe(false);
  });

  it("gives an admin users, tokens, nodes and audit", () => {
    expect(labels(new Abilities(ADMIN, Role.ADMIN))).toEqual([
      "Dashboard",
      "Cameras",
      "Live view",
      "Recordings",
      "Alerts",
      "Analytics",
      "Storage",
      "Nodes",
      "Users",
      "API tokens",
      "Audit log",
      "Settings",
    ]);
  });

  it("follows an API token's narrowed scopes, not its role", () => {
    const token = new Abilities(names(P.AUDIT_READ), Role.API);
    expect(labels(token)).toEqual(["Audit log"]);
    expect(token.home()).toBe("/audit");
    expect(new Abilities([], Role.API).home()).toBe("/account");
  });
});

describe("permission names", () => {
  it("come from the protos: every permission has its own wire name", () => {
    expect(permissionName(Permission.CAMERAS_READ)).toBe("cameras.read");
    expect(permissionName(Permission.STREAM_KEYS_READ)).toBe("stream_keys.read");
    const all = PermissionSchema.values
      .filter((v) => v.number !== P.UNSPECIFIED)
      .map((v) => permissionName(v.number as Permission));
    expect(all).toContain("alerts.write");
    expect(new Set(all).size).toBe(all.length);
    expect(all.every((n) => /^[a-z_]+\.(read|write)$/.test(n))).toBe(true);
  });
});
