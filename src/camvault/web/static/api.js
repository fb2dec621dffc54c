// The REST API as the pages use it: same-origin fetches with the session cookie, the CSRF
// header on state-changing requests, and a trip to the login page when the session is gone.

export const API = "/api/v1";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(";")) {
    const [key, ...rest] = part.trim().split("=");
    if (key === name) return decodeURIComponent(rest.join("="));
  }
  return "";
}

export function csrfToken() {
  return cookie("camvault_csrf");
}

export function toLogin() {
  window.location.replace("/login");
}

async function failure(response) {
  let detail = `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (typeof body.detail === "string") detail = body.detail;
  } catch {
    // keep the status line
  }
  return new ApiError(response.status, detail);
}

export async function getJson(path, params = {}) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, value);
  }
  const url = query.size ? `${API}${path}?${query}` : `${API}${path}`;
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "logged out");
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

// A state-changing request (PUT, DELETE ...) with the CSRF header; its JSON answer.
export async function sendJson(method, path) {
  const response = await fetch(`${API}${path}`, {
    method,
    credentials: "same-origin",
    headers: { Accept: "application/json", "X-CSRF-Token": csrfToken() },
  });
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "logged out");
  }
  if (!response.ok) throw await failure(response);
  return response.json();
}

export async function logout() {
  const response = await fetch(`${API}/logout`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRF-Token": csrfToken() },
  });
  // 401: the session had already ended; either way the login page is next
  if (!response.ok && response.status !== 401) throw await failure(response);
  toLogin();
}

export function mediaUrl(eventId, version) {
  return `${API}/events/${encodeURIComponent(eventId)}/media/${version}`;
}
