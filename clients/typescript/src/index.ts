// camfleet API client: the generated messages and service descriptors, plus a session helper
// that attaches `authorization: Bearer …` and refreshes the access token when it expires.
// Pick a transport from "./web.js" (browsers, grpc-web through Envoy) or "./node.js" (gRPC).
export * from "./gen/camfleet/v1/common_pb.js";
export * from "./gen/camfleet/v1/auth_pb.js";
export * from "./gen/camfleet/v1/user_pb.js";
export * from "./gen/camfleet/v1/api_token_pb.js";
export * from "./gen/camfleet/v1/camera_pb.js";
export * from "./gen/camfleet/v1/audit_pb.js";
export { refused, Session, type RefreshLock, type TokenStore } from "./session.js";
