// One IndexedDB key-value store. Unlike localStorage (which Chromium syncs between tabs'
// processes asynchronously), a committed IndexedDB transaction is visible to every tab at once,
// so tabs taking turns under a Web Lock can hand each other the latest tokens through it.

const DB = "camfleet";
const STORE = "kv";

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run<T>(mode: IDBTransactionMode, op: (s: IDBObjectStore) => IDBRequest): Promise<T> {
  const db = await open();
  try {
    return await new Promise<T>((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = op(tx.objectStore(STORE));
      // Resolve on commit, not on the request: the next tab must see the write.
      tx.oncomplete = () => resolve(req.result as T);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

export const idbGet = (key: string) => run<string | undefined>("readonly", (s) => s.get(key));
export const idbPut = (key: string, value: string) =>
  run<IDBValidKey>("readwrite", (s) => s.put(value, key));
export const idbDelete = (key: string) => run<undefined>("readwrite", (s) => s.delete(key));
