// Every error the UI shows goes through `describeError`: a gRPC status (from a grpc-web body,
// its trailer, or — for errors Envoy or the server answer before any message — the response
// headers alone) becomes one human sentence plus the machine details worth showing next to it.
import { Code, ConnectError } from "@connectrpc/connect";
import { BinaryReader } from "@bufbuild/protobuf/wire";

const TYPE_ERROR_INFO = "google.rpc.ErrorInfo";
const TYPE_BAD_REQUEST = "google.rpc.BadRequest";
const TYPE_RETRY_INFO = "google.rpc.RetryInfo";

/** google.rpc.ErrorInfo, decoded. */
export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}

/** One google.rpc.BadRequest.FieldViolation. */
export interface FieldViolation {
  field: string;
  description: string;
}

/** What the UI shows for a failed call. */
export interface ErrorDescription {
  code: Code;
  /** One or two sentences a person can act on. */
  sentence: string;
  /** Form fields to mark, from BadRequest. */
  violations: FieldViolation[];
  /** From RetryInfo: how long to wait before trying again. */
  retryAfterMs?: number;
  /** ErrorInfo reason, e.g. "PERMISSION_DENIED", "REVISION_COMPACTED". */
  reason?: string;
}

// The google.rpc messages are decoded by hand (three small messages) so the UI needs neither the
// googleapis protos nor a generation step for them.
function decodeErrorInfo(bytes: Uint8Array): ErrorInfo {
  const info: ErrorInfo = { reason: "", domain: "", metadata: {} };
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field === 1) info.reason = r.string();
    else if (field === 2) info.domain = r.string();
    else if (field === 3) {
      const entry = new BinaryReader(r.bytes());
      let key = "";
      let value = "";
      while (entry.pos < entry.len) {
        const [f, wt] = entry.tag();
        if (f === 1) key = entry.string();
        else if (f === 2) value = entry.string();
        else entry.skip(wt);
      }
      info.metadata[key] = value;
    } else r.skip(wireType);
  }
  return info;
}

function decodeBadRequest(bytes: Uint8Array): FieldViolation[] {
  const out: FieldViolation[] = [];
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field !== 1) {
      r.skip(wireType);
      continue;
    }
    const v = new BinaryReader(r.bytes());
    const violation: FieldViolation = { field: "", description: "" };
    while (v.pos < v.len) {
      const [f, wt] = v.tag();
      if (f === 1) violation.field = v.string();
      else if (f === 2) violation.description = v.string();
      else v.skip(wt);
    }
    out.push(violation);
  }
  return out;
}

function decodeRetryDelayMs(bytes: Uint8Array): number {
  let ms = 0;
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [field, wireType] = r.tag();
    if (field !== 1) {
      r.skip(wireType);
      continue;
    }
    const d = new BinaryReader(r.bytes());
    while (d.pos < d.len) {
      const [f, wt] = d.tag();
      if (f === 1) ms += Number(d.int64()) * 1000;
      else if (f === 2) ms += d.int32() / 1e6;
      else d.skip(wt);
    }
  }
  return Math.round(ms);
}

/** The google.rpc details of an error, decoded. Unknown or malformed details are ignored. */
export function errorDetails(err: ConnectError): {
  info?: ErrorInfo;
  violations: FieldViolation[];
  retryAfterMs?: number;
} {
  const out: { info?: ErrorInfo; violations: FieldViolation[]; retryAfterMs?: number } = {
    violations: [],
  };
  for (const d of err.details) {
    if (!("value" in d) || !(d.value instanceof Uint8Array)) continue;
    const type = "type" in d && typeof d.type === "string" ? d.type : "";
    try {
      if (type === TYPE_ERROR_INFO) out.info = decodeErrorInfo(d.value);
      else if (type === TYPE_BAD_REQUEST) out.violations.push(...decodeBadRequest(d.value));
      else if (type === TYPE_RETRY_INFO) out.retryAfterMs = decodeRetryDelayMs(d.value);
    } catch {
      // A detail we cannot read must not hide the status itself.
    }
  }
  return out;
}

// When the server gave no message (an error from Envoy, or one sent in headers only), say what
// the code means for the person at the screen.
const FALLBACK: Partial<Record<Code, string>> = {
  [Code.Canceled]: "The request was cancelled.",
  [Code.Unknown]: "Something went wrong on the server.",
  [Code.InvalidArgument]: "Some of what was entered is not valid.",
  [Code.DeadlineExceeded]: "The server took too long to answer. Try again.",
  [Code.NotFound]: "It no longer exists — someone may have deleted it.",
  [Code.AlreadyExists]: "Something with that name already exists.",
  [Code.PermissionDenied]: "Your account is not allowed to do this.",
  [Code.ResourceExhausted]: "Too many attempts.",
  [Code.FailedPrecondition]: "This cannot be done in the current state.",
  [Code.Aborted]: "Someone else changed this at the same time. Reload and try again.",
  [Code.Unimplemented]: "The server does not support this action (it may be older than this page).",
  [Code.Internal]: "The server hit an internal error.",
  [Code.Unavailable]:
    "The server cannot be reached right now. Check the connection; it will be retried.",
  [Code.DataLoss]: "The server lost data while answering.",
  [Code.Unauthenticated]: "Your session has ended. Please log in again.",
};

// Reasons that deserve their own wording, whatever the server's message says.
const BY_REASON: Record<string, string> = {
  INVALID_CREDENTIALS: "Wrong username or password.",
  ACCOUNT_DISABLED: "This account is disabled. Ask an administrator.",
  TOKEN_EXPIRED: "Your session has expired. Please log in again.",
  TOKEN_REVOKED: "Your session was ended. Please log in again.",
  REFRESH_TOKEN_REUSED:
    "Your session was ended because it was used from two places. Please log in again.",
  IP_NOT_ALLOWED: "This token may not be used from your network address.",
};

function sentenceCase(message: string): string {
  const trimmed = message.trim();
  if (!trimmed) return "";
  const first = trimmed[0].toUpperCase() + trimmed.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

function seconds(ms: number): string {
  const s = Math.max(1, Math.ceil(ms / 1000));
  return s === 1 ? "1 second" : `${s} seconds`;
}

/** `thrown` as a ConnectError, where a fetch() that failed is UNAVAILABLE. fetch() rejects with
 * a TypeError when the network or Envoy is down or drops the connection; connect-web reports that
 * as UNKNOWN, but it is "cannot reach the server": said so, and asked again where that is done. */
export function asConnectError(thrown: unknown): ConnectError {
  const err = ConnectError.from(thrown);
  if (err.code === Code.Unknown && err.cause instanceof TypeError) {
    return new ConnectError(err.rawMessage, Code.Unavailable, undefined, undefined, err.cause);
  }
  return err;
}

/** A human description of any thrown value (ConnectError or not). */
export function describeError(thrown: unknown): ErrorDescription {
  const err = asConnectError(thrown);
  const { info, violations, retryAfterMs } = errorDetails(err);
  const reason = info?.reason || undefined;
  const serverSays = sentenceCase(err.rawMessage);
  const parts: string[] = [];

  if (reason && BY_REASON[reason]) {
    parts.push(BY_REASON[reason]);
  } else if (err.code === Code.PermissionDenied) {
    parts.push(FALLBACK[Code.PermissionDenied]!);
    // Quoted as is: it starts with a username, which must not be re-cased.
    const raw = err.rawMessage.trim();
    if (raw) parts.push(`The server said: “${raw}”.`);
  } else if (
    err.code === Code.Unavailable ||
    err.code === Code.Internal ||
    err.code === Code.Unknown
  ) {
    // Transport-level text ("Failed to fetch", "HTTP 503") helps nobody at the screen.
    parts.push(FALLBACK[err.code]!);
  } else if (violations.length > 0) {
    parts.push(FALLBACK[Code.InvalidArgument]!);
    // Field paths name proto fields ("new_password"): shown with spaces ("New password: …").
    for (const v of violations)
      parts.push(
        sentenceCase(v.field ? `${v.field.replaceAll("_", " ")}: ${v.description}` : v.description),
      );
  } else {
    parts.push(serverSays || FALLBACK[err.code] || "Something went wrong.");
  }
  if (retryAfterMs !== undefined) parts.push(`Try again in ${seconds(retryAfterMs)}.`);
  return { code: err.code, sentence: parts.join(" "), violations, retryAfterMs, reason };
}

/** True when the error says the watch revision was compacted away (list again). */
export function isRevisionCompacted(thrown: unknown): boolean {
  const err = ConnectError.from(thrown);
  return (
    err.code === Code.FailedPrecondition && errorDetails(err).info?.reason === "REVISION_COMPACTED"
  );
}

/** True when the server does not have this RPC yet (an older control plane): pages then show
 * what they can without it instead of an error. */
export function isUnimplemented(thrown: unknown): boolean {
  return ConnectError.from(thrown).code === Code.Unimplemented;
}
