// The analytics API over the page's one transport (auth and silent refresh included).
import { useMemo } from "react";
import { createClient, type Client } from "@connectrpc/connect";
import { AnalyticsService } from "@camfleet/client/gen/camfleet/v1/analytics_pb.js";
import { useApi } from "../auth/AuthContext";

export type AnalyticsClient = Client<typeof AnalyticsService>;

export function useAnalytics(): AnalyticsClient {
  const { transport } = useApi();
  return useMemo(() => createClient(AnalyticsService, transport), [transport]);
}
