import { lazy, Suspense } from "react";
import { Center, Loader } from "@mantine/core";
import { Navigate, Route, Routes } from "react-router";
import { useAuth } from "./auth/AuthContext";
import { Shell } from "./components/Shell";
import { LoginPage } from "./pages/Login";
import { DashboardPage } from "./pages/Dashboard";
import { CamerasPage } from "./pages/Cameras";
import { AccountPage } from "./pages/Account";
import { FleetProvider } from "./watch/FleetContext";
import { FiringCountProvider } from "./alerts/FiringCount";

// Pages beyond the dashboard and cameras load when first opened (hls.js only with the players).
const LivePage = lazy(() => import("./pages/Live"));
const RecordingsPage = lazy(() => import("./pages/Recordings"));
const NodesPage = lazy(() => import("./pages/Nodes"));
const CameraPage = lazy(() => import("./pages/Camera"));
const UsersPage = lazy(() => import("./pages/Users"));
const TokensPage = lazy(() => import("./pages/Tokens"));
const AuditPage = lazy(() => import("./pages/Audit"));
const AlertsPage = lazy(() => import("./pages/Alerts"));
const AlertRulesPage = lazy(() => import("./pages/AlertRules"));
const AlertChannelsPage = lazy(() => import("./pages/AlertChannels"));
const AlertPoliciesPage = lazy(() => import("./pages/AlertPolicies"));
const SilencesPage = lazy(() => import("./pages/Silences"));
// The charts (recharts) load only with the pages that draw them.
const AnalyticsPage = lazy(() => import("./pages/Analytics"));
const StoragePage = lazy(() => import("./pages/Storage"));
const SettingsPage = lazy(() => import("./pages/Settings"));

const spinner = (
  <Center h="60vh">
    <Loader data-testid="loading" />
  </Center>
);

export function App() {
  const { user, abilities } = useAuth();
  if (user === undefined) return spinner;
  if (user === null) return <LoginPage />;
  return (
    <FleetProvider>
      <FiringCountProvider>
        <Shell>
          <Suspense fallback={spinner}>
            {/* Every page is routed for everyone: the navigation offers only what the person may
            use, and a page opened from a link shows the server's refusal in words. */}
            <Routes>
              <Route path="/dashboard" element={<DashboardPage />} />
              <Route path="/cameras" element={<CamerasPage />} />
              <Route path="/cameras/:id" element={<CameraPage />} />
              <Route path="/live" element={<LivePage />} />
              <Route path="/recordings" element={<RecordingsPage />} />
              <Route path="/nodes" element={<NodesPage />} />
              <Route path="/users" element={<UsersPage />} />
              <Route path="/tokens" element={<TokensPage />} />
              <Route path="/audit" element={<AuditPage />} />
              <Route path="/alerts" element={<AlertsPage />} />
              <Route path="/alerts/rules" element={<AlertRulesPage />} />
              <Route path="/alerts/channels" element={<AlertChannelsPage />} />
              <Route path="/alerts/policies" element={<AlertPoliciesPage />} />
              <Route path="/alerts/silences" element={<SilencesPage />} />
              <Route path="/analytics" element={<AnalyticsPage />} />
              <Route path="/storage" element={<StoragePage />} />
              <Route path="/settings" element={<Navigate to="/settings/streaming" replace />} />
              <Route path="/settings/:group" element={<SettingsPage />} />
              <Route path="/account" element={<AccountPage />} />
              <Route path="*" element={<Navigate to={abilities.home()} replace />} />
            </Routes>
          </Suspense>
        </Shell>
      </FiringCountProvider>
    </FleetProvider>
  );
}
