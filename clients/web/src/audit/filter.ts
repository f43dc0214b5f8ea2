// The audit page's controls → an AIP-160 filter for ListAuditLogs.

export interface AuditFilters {
  actor?: string;
  /** Exact action, or a prefix with a trailing "*" ("camera.*"). */
  action?: string;
  outcome?: string | null;
  /** datetime-local values (local time, "YYYY-MM-DDTHH:MM"). */
  from?: string;
  to?: string;
}

const quote = (v: string) => `"${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;

function isoFromLocal(value: string): string | undefined {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

export function auditFilter(f: AuditFilters): string {
  const terms: string[] = [];
  if (f.actor?.trim()) terms.push(`actor = ${quote(f.actor.trim())}`);
  if (f.action?.trim()) terms.push(`action = ${quote(f.action.trim())}`);
  if (f.outcome) terms.push(`outcome = ${quote(f.outcome)}`);
  const from = f.from ? isoFromLocal(f.from) : undefined;
  const to = f.to ? isoFromLocal(f.to) : undefined;
  if (from) terms.push(`time >= ${quote(from)}`);
  if (to) terms.push(`time < ${quote(to)}`);
  return terms.join(" AND ");
}
