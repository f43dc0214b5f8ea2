// What a signed-in person sees: navigation entries and edit controls follow the permissions
// WhoAmI reports (the server's one permission table), never a guess from the role name.
import { Role } from "@camfleet/client/gen/camfleet/v1/common_pb.js";

export type Permission =
  | "cameras.read"
  | "cameras.write"
  | "stream_keys.read"
  | "streams.read"
  | "recordings.read"
  | "recordings.write"
  | "nodes.read"
  | "nodes.write"
  | "users.read"
  | "users.write"
  | "api_tokens.read"
  | "api_tokens.write"
  | "audit.read";

export interface NavItem {
  path: string;
  label: string;
  /** Shown when the person holds this permission. */
  needs: Permission;
}

export const NAV_ITEMS: readonly NavItem[] = [
  { path: "/dashboard", label: "Dashboard", needs: "cameras.read" },
  { path: "/cameras", label: "Cameras", needs: "cameras.read" },
  { path: "/live", label: "Live view", needs: "streams.read" },
  { path: "/recordings", label: "Recordings", needs: "recordings.read" },
  { path: "/nodes", label: "Nodes", needs: "nodes.read" },
  { path: "/users", label: "Users", needs: "users.read" },
  { path: "/tokens", label: "API tokens", needs: "api_tokens.read" },
  { path: "/audit", label: "Audit log", needs: "audit.read" },
];

/** A person's abilities, from WhoAmI. */
export class Abilities {
  private readonly granted: ReadonlySet<string>;

  constructor(permissions: Iterable<string>, readonly role: Role = Role.UNSPECIFIED) {
    this.granted = new Set(permissions);
  }

  can(permission: Permission): boolean {
    return this.granted.has(permission);
  }

  /** The navigation entries this person may open, in menu order. */
  navigation(): NavItem[] {
    return NAV_ITEMS.filter((item) => this.can(item.needs));
  }

  /** Where to land after login: the first page they may open. */
  home(): string {
    return this.navigation()[0]?.path ?? "/account";
  }
}

/** A role's display name. */
export function roleLabel(role: Role): string {
  switch (role) {
    case Role.ADMIN:
      return "admin";
    case Role.OPERATOR:
      return "operator";
    case Role.VIEWER:
      return "viewer";
    case Role.API:
      return "API";
    default:
      return "unknown";
  }
}
