// The camera list's filter controls (status, active, recording, one label), each a term of the
// server-side AIP-160 filter (cameras/filter.ts).
import { Select, TextInput } from "@mantine/core";
import type { CameraFilters } from "./filter";

export function CameraFilterControls({
  filters,
  onChange,
}: {
  filters: CameraFilters;
  onChange(f: CameraFilters): void;
}) {
  return (
    <>
      <Select
        placeholder="Any status"
        clearable
        w={150}
        value={filters.status ?? null}
        data-testid="filter-status"
        data={["ONLINE", "CONNECTING", "OFFLINE", "ERROR"]}
        onChange={(v) => onChange({ ...filters, status: v as CameraFilters["status"] })}
      />
      <Select
        placeholder="Active or not"
        clearable
        w={150}
        value={filters.active == null ? null : String(filters.active)}
        data={[
          { value: "true", label: "Active" },
          { value: "false", label: "Inactive" },
        ]}
        onChange={(v) => onChange({ ...filters, active: v == null ? null : v === "true" })}
      />
      <Select
        placeholder="Recording or not"
        clearable
        w={170}
        value={filters.recording == null ? null : String(filters.recording)}
        data={[
          { value: "true", label: "Recording on" },
          { value: "false", label: "Recording off" },
        ]}
        onChange={(v) => onChange({ ...filters, recording: v == null ? null : v === "true" })}
      />
      <TextInput
        placeholder="label: key=value"
        w={180}
        value={filters.label ?? ""}
        onChange={(e) => onChange({ ...filters, label: e.currentTarget.value })}
      />
    </>
  );
}
