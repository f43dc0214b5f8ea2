// The camera list's filter controls → an AIP-160 filter string for ListCameras.

export interface CameraFilters {
  status?: "ONLINE" | "OFFLINE" | "CONNECTING" | "ERROR" | null;
  active?: boolean | null;
  recording?: boolean | null;
  /** "key=value" label, matched exactly. */
  label?: string | null;
}

const quote = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

/** The filter expression, or "" for no filter. A malformed label filter is ignored. */
export function cameraFilter(f: CameraFilters): string {
  const terms: string[] = [];
  if (f.status) terms.push(`status = ${f.status}`);
  if (f.active != null) terms.push(`active = ${f.active}`);
  if (f.recording != null) terms.push(`recording_enabled = ${f.recording}`);
  const m = f.label?.match(/^\s*([a-z0-9_.-]{1,63})\s*=\s*(.+?)\s*$/);
  if (m) terms.push(`labels.${m[1]} = ${quote(m[2])}`);
  return terms.join(" AND ");
}
