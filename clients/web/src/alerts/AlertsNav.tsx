// The alerting pages' own tabs: alerts, rules, channels, policies, silences (one navigation entry).
import { Tabs } from "@mantine/core";
import { useLocation, useNavigate } from "react-router";

const PAGES = [
  { path: "/alerts", label: "Alerts" },
  { path: "/alerts/rules", label: "Rules" },
  { path: "/alerts/channels", label: "Channels" },
  { path: "/alerts/policies", label: "Notification policies" },
  { path: "/alerts/silences", label: "Silences" },
];

export function AlertsNav() {
  const location = useLocation();
  const navigate = useNavigate();
  return (
    <Tabs value={location.pathname} onChange={(v) => v && navigate(v)} variant="outline">
      <Tabs.List>
        {PAGES.map((p) => (
          <Tabs.Tab
            key={p.path}
            value={p.path}
            data-testid={`alerts-tab-${p.path.split("/")[2] ?? "alerts"}`}
          >
            {p.label}
          </Tabs.Tab>
        ))}
      </Tabs.List>
    </Tabs>
  );
}
