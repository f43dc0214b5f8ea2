// What a signed-in person sees: navigation entries and edit controls follow the permissions
// WhoAmI reports (the server's one permission table), never a guess from the role name.
// Permission names come from the protos (camfleet.v1.Permission and its `permission_name`
// option), so the UI keeps no copy of them.
import { getOption } from "@bufbuild/protobuf";
import { Role } from "@camfleet/client/gen/camfleet/v1/common_pb.js";
import {
  Permission,
  PermissionSchema,
  permission_name,
} from "@camfleet/client/gen/camfleet/v1/permission_pb.js";

const NAMES: ReadonlyMap<Permission, string> = new Map(
  PermissionSchema.values.map((v) => [v.number as Permission, getOption(v, permission_name)]),
);

/** The name a permission travels by in WhoAmI and API token scopes, e.g. "cameras.read". */
export function permissionName(permission: Permission): string {
  return NAMES.get(permission) ?? "";
}

export interface NavItem {
  path: string;
  label: string;
  /** Shown when the person holds this permission. */
  needs: Permission;
}

export const NAV_ITEMS: readonly NavItem[] = [
  { path: "/dashboard", label: "Dashboard", needs: Permission.CAMERAS_READ },
  { path: "/cameras", label: "Cameras", needs: Permission.CAMERAS_READ },
  { path: "/live", label: "Live view", needs: Permission.STREAMS_READ },
  { path: "/recordings", label: "Recordings", needs: Permission.RECORDINGS_READ },
  { path: "/alerts", label: "Alerts", needs: Permission.ALERTS_READ },
  { path: "/analytics", label: "Analytics", needs: Permission.ANALYTICS_READ },
  { path: "/storage", label: "Storage", needs: Permission.ANALYTICS_READ },
  { path: "/nodes", label: "Nodes", needs: Permission.NODES_READ },
  { path: "/users", label: "Users", needs: Permission.USERS_READ },
  { path: "/tokens", label: "API tokens", needs: Permission.API_TOKENS_READ },
  { path: "/audit", label: "Audit log", needs: Permission.AUDIT_READ },
  { path: "/settings", label: "Settings", needs: Permission.SETTINGS_READ },
];

/** A person's abilities, from WhoAmI. */
export class Abilities {
  private readonly granted: ReadonlySet<string>;

  constructor(
    permissions: Iterable<string>,
    readonly role: Role = Role.UNSPECIFIED,
  ) {
    this.granted = new Set(permissions);
  }

  can(permission: Permission): boolean {
    return this.granted.has(permissionName(permission));
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
