// A pull camera's source URL, checked in the browser as the server checks it
// (server/cameras/fields.py check_source_url) so the form names the mistake before sending;
// the server's own refusal is still shown on the field when it disagrees.

export const PULL_SCHEMES = ["rtsp", "rtsps", "rtmp", "rtmps", "http", "https"] as const;
export const MAX_SOURCE_URL = 2000;

// Control characters (C0, DEL, C1): a host with one is never what someone meant.
// eslint-disable-next-line no-control-regex -- matching them is the point
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `raw` cannot be a pull source, as a sentence; null when it can. */
export function sourceUrlProblem(raw: string): string | null {
  const url = raw.trim();
  if (!url) return "Enter the URL the node pulls, e.g. rtsp://camera.local/stream.";
  if (url.length > MAX_SOURCE_URL)
    return `The URL is ${url.length} characters long; at most ${MAX_SOURCE_URL} are allowed.`;
  if (CONTROL.test(url)) return "The URL contains control characters; type it again by hand.";
  if (/\s/.test(url)) return "The URL contains a space; percent-encode it as %20.";
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1].toLowerCase();
  if (!scheme || !url.slice(scheme.length + 1).startsWith("//"))
    return "Start the URL with rtsp://, rtsps://, rtmp://, rtmps://, http:// or https://.";
  if (!(PULL_SCHEMES as readonly string[]).includes(scheme))
    return `A node cannot pull “${scheme}:” URLs; use rtsp, rtsps, rtmp, rtmps, http or https.`;
  // The authority by hand: URL() knows it for http(s) only, and forgives "rtsp:///x".
  const authority = url.slice(scheme.length + 3).split(/[/?#]/)[0];
  const hostPort = authority.slice(authority.lastIndexOf("@") + 1);
  const host = hostPort.startsWith("[")
    ? hostPort.slice(0, hostPort.indexOf("]") + 1)
    : hostPort.split(":")[0];
  if (!host || host === "[]") return "The URL has no host: rtsp://HOST[:PORT]/path.";
  const port = hostPort.slice(host.length);
  if (port && !/^:\d{1,5}$/.test(port)) return `The port in “${hostPort}” is not a number.`;
  return null;
}

/** `raw` with the password of its user:password@ part shown as *** (for display). */
export function redactSourceUrl(raw: string): string {
  return raw.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^/@:]*):[^/@]*@/, "$1:***@");
}
