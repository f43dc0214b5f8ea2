// One grpc-web transport to the page's own origin (Envoy serves the UI and the API on one port),
// the shared Session from clients/typescript for auth and silent refresh, and typed clients.
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { DescService } from "@bufbuild/protobuf";
import { Session } from "@camfleet/client/session.js";
import { AlertService } from "@camfleet/client/gen/camfleet/v1/alert_pb.js";
import { AuthService } from "@camfleet/client/gen/camfleet/v1/auth_pb.js";
import { ApiTokenService } from "@camfleet/client/gen/camfleet/v1/api_token_pb.js";
import { AuditService } from "@camfleet/client/gen/camfleet/v1/audit_pb.js";
import { CameraService } from "@camfleet/client/gen/camfleet/v1/camera_pb.js";
import { EventService } from "@camfleet/client/gen/camfleet/v1/event_pb.js";
import { NodeService } from "@camfleet/client/gen/camfleet/v1/node_pb.js";
import { RecordingService } from "@camfleet/client/gen/camfleet/v1/recording_pb.js";
import { StreamService } from "@camfleet/client/gen/camfleet/v1/stream_pb.js";
import { UserService } from "@camfleet/client/gen/camfleet/v1/user_pb.js";
import { BrowserTokenStore } from "./tokenStore";

export { BrowserTokenStore };

/** Everything the pages need to talk to the API. */
export interface Api {
  session: Session;
  store: BrowserTokenStore;
  transport: Transport;
  auth: Client<typeof AuthService>;
  users: Client<typeof UserService>;
  tokens: Client<typeof ApiTokenService>;
  audit: Client<typeof AuditService>;
  cameras: Client<typeof CameraService>;
  events: Client<typeof EventService>;
  nodes: Client<typeof NodeService>;
  streams: Client<typeof StreamService>;
  recordings: Client<typeof RecordingService>;
  alerts: Client<typeof AlertService>;
}

/** Build the API for `baseUrl` (the page's origin in production); render once `store.ready`. */
export function createApi(baseUrl: string = window.location.origin): Api {
  const store = new BrowserTokenStore();
  // The session refreshes over a bare transport (no auth interceptor, so no recursion).
  const session = new Session(createGrpcWebTransport({ baseUrl }), store, store.refreshLock);
  const transport = createGrpcWebTransport({ baseUrl, interceptors: [session.interceptor] });
  const c = <S extends DescService>(s: S) => createClient(s, transport);
  return {
    session,
    store,
    transport,
    auth: c(AuthService),
    users: c(UserService),
    tokens: c(ApiTokenService),
    audit: c(AuditService),
    cameras: c(CameraService),
    events: c(EventService),
    nodes: c(NodeService),
    streams: c(StreamService),
    recordings: c(RecordingService),
    alerts: c(AlertService),
  };
}
