// The API, same origin: the console is served at <api>/console/, so the API is "../".
// The key is sent as a header on every call and kept in sessionStorage only (this tab,
// gone when it closes): never in a URL, localStorage, a cookie or a log.

const BASE = new URL("../", window.location.href);
const STORAGE = "binvault.console.key";

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let session = null;

export function signedIn() {
  if (session) return session;
  try {
    const saved = JSON.parse(window.sessionStorage.getItem(STORAGE) || "null");
    if (saved && (saved.kind === "master" || saved.kind === "access") && typeof saved.key === "string") {
      session = saved;
    }
  } catch {
    session = null;
  }
  return session;
}

export function signIn(kind, key) {
  session = { kind, key };
  window.sessionStorage.setItem(STORAGE, JSON.stringify(session));
}

export function signOut() {
  session = null;
  window.sessionStorage.clear();
}

export function isMaster() {
  return signedIn()?.kind === "master";
}

// One API call: resolves {data, etag}; rejects with ApiError carrying the API's message.
export async function call(method, path, options = {}) {
  const headers = { ...(options.headers || {}) };
  const current = options.key ?? signedIn();
  if (current) headers[current.kind === "master" ? "X-Master-Key" : "X-Access-Key"] = current.key;
  let body;
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = typeof options.body === "string" ? options.body : JSON.stringify(options.body);
  }
  const url = new URL(path.replace(/^\//, ""), BASE);
  for (const [name, value] of Object.entries(options.query || {})) url.searchParams.set(name, value);
  let response;
  try {
    response = await fetch(url, { method, headers, body, cache: "no-store", credentials: "omit" });
  } catch (error) {
    throw new ApiError(0, `Cannot reach the API (${error.message})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && typeof data.message === "string" ? data.message : `The API answered ${response.status}`;
    throw new ApiError(response.status, message, data);
  }
  return { data, etag: response.headers.get("ETag") };
}

export const id = (value) => encodeURIComponent(value);
