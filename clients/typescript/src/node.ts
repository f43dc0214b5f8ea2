// Node entry point: plain gRPC over HTTP/2, straight to the control plane or through Envoy.
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Interceptor, Transport } from "@connectrpc/connect";

/** A gRPC transport to `baseUrl` (for example "http://127.0.0.1:50051"). */
export function nodeTransport(baseUrl: string, interceptors: Interceptor[] = []): Transport {
  return createGrpcTransport({ baseUrl, interceptors });
}
