// Browser entry point: grpc-web through Envoy.
import { createGrpcWebTransport } from "@connectrpc/connect-web";
import type { Interceptor, Transport } from "@connectrpc/connect";

/** A grpc-web transport to Envoy at `baseUrl` (for example "http://127.0.0.1:8080"). */
export function webTransport(baseUrl: string, interceptors: Interceptor[] = []): Transport {
  return createGrpcWebTransport({ baseUrl, interceptors });
}
