import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import "@mantine/charts/styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { MantineProvider, createTheme } from "@mantine/core";
import { Notifications } from "@mantine/notifications";
import { ModalsProvider } from "@mantine/modals";
import { HashRouter } from "react-router";
import { createApi } from "./api/client";
import { AuthProvider } from "./auth/AuthContext";
import { App } from "./App";

const theme = createTheme({ primaryColor: "indigo", defaultRadius: "sm" });
// The page's style nonce (server/ui puts a fresh one in this meta tag and in the CSP): Mantine
// injects <style> elements, which the CSP refuses without it. Read once: browsers hide the
// attribute after parsing, the `nonce` property keeps it.
const styleNonce = document.querySelector<HTMLMetaElement>("meta[property=csp-nonce]")?.nonce ?? "";

const api = createApi();
// The stored session lives in IndexedDB (asynchronous): load it first, so the first render
// already knows whether someone is signed in (no flash of the login page).
void api.store.ready.then(() =>
  createRoot(document.getElementById("root")!).render(
    <StrictMode>
      <MantineProvider theme={theme} defaultColorScheme="auto" getStyleNonce={() => styleNonce}>
        <Notifications position="top-right" />
        <ModalsProvider>
          {/* Hash routes: Envoy serves index.html at "/" only, and deep links must survive reloads. */}
          <HashRouter>
            <AuthProvider api={api}>
              <App />
            </AuthProvider>
          </HashRouter>
        </ModalsProvider>
      </MantineProvider>
    </StrictMode>,
  ),
);
