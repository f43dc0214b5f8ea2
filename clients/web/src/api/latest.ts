// A page that asks again before the last answer came (the person switched tab, camera, range or
// group meanwhile) shows the newest ask's answer only. Without this a slow answer to the earlier
// ask overwrote the page: the notifications settings form vanished when the streaming group's
// answer arrived after the notifications group's (CI, a loaded machine).
import { useEffect, useState } from "react";

/** Numbers a page's asks; only the newest one's answer applies. */
export class Latest {
  private newest = 0;

  /** A new ask: the returned check says whether it is still the newest. */
  begin(): () => boolean {
    const id = ++this.newest;
    return () => id === this.newest;
  }

  /** No ask made so far applies any more (the page closed). */
  drop(): void {
    this.newest++;
  }
}

/** One `Latest` for the component's life; answers that come after it unmounts are dropped. */
export function useLatest(): Latest {
  const [latest] = useState(() => new Latest());
  useEffect(() => () => latest.drop(), [latest]);
  return latest;
}
