// REST calls to our own server, with the signed-in user's token.
import { noteServerDate } from "./dom.js";

export class ApiError extends Error {
  constructor(status, code, message, details = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

let token = null;
let unauthorized = () => {};
export function useToken(value) {
  token = value;
}

/** Called with the server's message when it refuses the token (expired or revoked). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "unavailable", "The server cannot be reached; check your connection");
  }
  noteServerDate(response.headers.get("Date"));
  const data = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (data && data.error) || {};
    if (response.status === 401 && token) unauthorized(error.message || "Your sign-in is no longer valid");
    throw new ApiError(
      response.status,
      error.code || "internal",
      error.message || `The server answered ${response.status}`,
      error,
    );
  }
  return data;
}
