// The settings API over the page's one transport (auth and silent refresh included).
import { useMemo } from "react";
import { createClient, type Client } from "@connectrpc/connect";
import { SettingsService } from "@camfleet/client/gen/camfleet/v1/settings_pb.js";
import { useApi } from "../auth/AuthContext";

export type SettingsClient = Client<typeof SettingsService>;

export function useSettingsClient(): SettingsClient {
  const { transport } = useApi();
  return useMemo(() => createClient(SettingsService, transport), [transport]);
}
