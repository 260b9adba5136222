// Who is using the page: a demo user (dev mode), a pasted token, or a guest who only watches.
//
// The sign-in lives in localStorage, so every tab of this browser shares it: a second tab
// starts signed in, and signing out (or in) in one tab does so in all of them. A token that
// expires, or that the server refuses, never signs the user out silently: the page says so
// and offers to sign in again.
//
// A token is renewed (POST /api/auth/refresh) shortly before it runs out, so nobody is signed
// out in the middle of a sale; when the server refuses to renew it, the page says so.
import { ApiError, api, useToken } from "./api.js";
import { h, uniqueId } from "./dom.js";

const SESSION_KEY = "auction.session";
/** Warn this long before the token runs out. */
const EXPIRY_WARNING_MS = 5 * 60_000;
/** Renew the token this long before it runs out (a third of its life, for short-lived ones). */
const RENEW_LEAD_MS = 2 * 60_000;
/** When renewing failed for want of a connection, try again this often. */
const RENEW_RETRY_MS = 15_000;
/** The longest delay setTimeout keeps. */
const MAX_DELAY_MS = 2 ** 31 - 1;

/** The claims of a JWT, for display only: the server is what checks it. */
export function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

/** Trade `token` for a fresh one; throws ApiError (status 401: refused, 0: unreachable). */
async function renewToken(token) {
  let response;
  try {
    response = await fetch("/api/auth/refresh", {
      method: "POST",
      headers: { Accept: "application/json", Authorization: `Bearer ${token}` },
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, "unavailable", "The server cannot be reached");
  }
  const data = await response.json().catch(() => null);
  if (!response.ok || !data || typeof data.token !== "string") {
    const error = (data && data.error) || {};
    throw new ApiError(response.status, error.code || "internal", error.message || `The server answered ${response.status}`);
  }
  return data.token;
}

function readSaved() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

export class Session {
  /**
   * `onChange(user, token)` runs on every sign-in and sign-out; `onRenew(token)` when the same
   * sign-in got a fresh token (already in use for api() calls): nothing to reload or reconnect.
   */
  constructor({ root, config, onChange, onRenew = () => {}, verb = "Bidding" }) {
    this.root = root;
    this.config = config;
    this.onChange = onChange;
    this.onRenew = onRenew;
    this.verb = verb;
    this.user = null;
    this.token = null;
    this.message = "";
    this.expiryTimer = null;
    this.renewTimer = null;
    // Another tab signed in or out, or renewed the token: follow it.
    window.addEventListener("storage", (event) => {
      if (event.key !== SESSION_KEY) return;
      const saved = readSaved();
      if ((saved && saved.token) === this.token) return;
      if (saved && saved.token && this.sameUser(saved.user)) return this.renewed(saved.token, false);
      if (saved && saved.token) this.apply(saved.user, saved.token, "");
      else this.apply(null, null, this.user ? "You signed out in another tab." : "");
    });
  }

  get signedIn() {
    return Boolean(this.user);
  }

  restore() {
    const saved = readSaved();
    const claims = saved && claimsOf(saved.token);
    if (claims && claims.exp * 1000 > Date.now()) {
      this.set(saved.user, saved.token);
    } else if (saved && saved.user) {
      const name = saved.user.name || saved.user.sub;
      this.set(null, null, `Your sign-in as ${name} expired. Sign in again to bid.`);
    } else {
      this.set(null, null);
    }
  }

  set(user, token, message = "") {
    if (token) localStorage.setItem(SESSION_KEY, JSON.stringify({ user, token }));
    else localStorage.removeItem(SESSION_KEY);
    this.apply(user, token, message);
  }

  apply(user, token, message) {
    this.user = user;
    this.token = token;
    this.message = message;
    this.watchExpiry();
    this.render();
    this.onChange(user, token);
  }

  sameUser(user) {
    return Boolean(this.user && user && user.sub === this.user.sub && user.role === this.user.role);
  }

  /**
   * Renew the token before it runs out, and say so when it does run out. A token without `iat`
   * cannot be renewed (the server cannot tell how old its sign-in is): it is warned about instead.
   */
  watchExpiry() {
    clearTimeout(this.expiryTimer);
    clearTimeout(this.renewTimer);
    const claims = this.token && claimsOf(this.token);
    if (!claims || typeof claims.exp !== "number") return;
    const left = claims.exp * 1000 - Date.now();
    if (left <= 0) {
      this.expired("Your sign-in expired. Sign in again to bid.");
    } else if (left > EXPIRY_WARNING_MS) {
      this.expiryTimer = setTimeout(() => this.watchExpiry(), Math.min(left - EXPIRY_WARNING_MS, MAX_DELAY_MS));
    } else {
      if (typeof claims.iat !== "number") {
        this.warning = "Your sign-in expires in a few minutes. Sign in again to keep bidding.";
        this.render();
      }
      this.expiryTimer = setTimeout(() => this.watchExpiry(), left + 100);
    }
    if (left > 0 && typeof claims.iat === "number") {
      const lifetime = Math.max(claims.exp - claims.iat, 0) * 1000;
      this.renewIn(left - Math.min(RENEW_LEAD_MS, lifetime / 3));
    }
  }

  renewIn(delay) {
    clearTimeout(this.renewTimer);
    // Beyond what setTimeout keeps, the expiry timer's next watchExpiry() schedules it.
    if (delay <= MAX_DELAY_MS) this.renewTimer = setTimeout(() => this.renew(), Math.max(delay, 0));
  }

  /** Trade the token for a fresh one; a refusal signs out and says why. */
  async renew() {
    const token = this.token;
    if (!token) return;
    // Another tab may have renewed it already.
    const saved = readSaved();
    if (saved && saved.token && saved.token !== token && this.sameUser(saved.user)) {
      return this.renewed(saved.token, false);
    }
    let fresh;
    try {
      fresh = await renewToken(token);
    } catch (error) {
      if (this.token !== token) return;
      if (error.status === 401) return this.refused(error.message.replace(/: sign in again$/i, ""));
      this.warning = `Your sign-in could not be renewed yet (${error.message}); trying again.`;
      this.render();
      return this.renewIn(RENEW_RETRY_MS);
    }
    if (this.token !== token) return; // signed out, or in as someone else, meanwhile
    this.renewed(fresh, true);
  }

  /** Same user, fresh token: keep the page as it is. */
  renewed(token, save) {
    if (save) localStorage.setItem(SESSION_KEY, JSON.stringify({ user: this.user, token }));
    this.token = token;
    useToken(token);
    this.onRenew(token);
    const warned = Boolean(this.warning);
    this.warning = "";
    this.watchExpiry();
    if (warned) this.render();
  }

  async signInAs(sub) {
    try {
      const answer = await api("POST", "/api/dev/login", { sub });
      this.set(answer.user, answer.token);
    } catch (error) {
      this.message = error.message;
      this.render();
    }
  }

  useToken(token) {
    const claims = claimsOf(token.trim());
    if (!claims || typeof claims.sub !== "string") {
      this.message = "That does not look like a token (header.payload.signature).";
      this.render();
      return;
    }
    const user = { sub: claims.sub, role: claims.role || "bidder", name: claims.name || claims.sub };
    this.set(user, token.trim());
  }

  /** The server refused the token (expired, or signed with another secret). */
  refused(message) {
    this.expired(`Signed out: ${message}. Sign in again to continue.`);
  }

  /** The sign-in ended: say so where the user looks, and keep who it was for signing in again. */
  expired(message) {
    if (!this.token) return;
    this.warning = "";
    this.set(null, null, message);
  }

  render() {
    this.root.replaceChildren();
    if (this.user) {
      this.root.append(
        h(
          "p",
          { class: "who" },
          `${this.verb} as `,
          h("strong", { text: this.user.name || this.user.sub }),
          ` (${this.user.sub}) `,
          h("button", {
            type: "button",
            class: "link",
            text: "Sign out",
            onclick: () => this.set(null, null),
          }),
        ),
      );
      if (this.warning) this.root.append(h("p", { class: "warning", role: "status", text: this.warning }));
      return;
    }
    this.root.append(h("p", { class: "who", text: "Watching as a guest. Sign in to bid." }));
    if (this.message) this.root.append(h("p", { class: "error", role: "alert", text: this.message }));
    if (this.config.dev_mode) this.renderDemoUsers();
    else this.renderTokenForm();
  }

  renderDemoUsers() {
    const buttons = this.config.demo_users.map((user) =>
      h("button", {
        type: "button",
        text: `Sign in as ${user.name}`,
        onclick: () => this.signInAs(user.sub),
      }),
    );
    const nameId = uniqueId("name");
    const name = h("input", { id: nameId, type: "text", autocomplete: "username", maxlength: "64" });
    this.root.append(
      h("div", { class: "demo-users", role: "group", "aria-label": "Demo users" }, buttons),
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (event) => {
            event.preventDefault();
            if (name.value.trim()) this.signInAs(name.value.trim());
          },
        },
        h("label", { for: nameId, text: "Or another name" }),
        name,
        h("button", { type: "submit", class: "secondary", text: "Sign in" }),
      ),
    );
  }

  renderTokenForm() {
    const tokenId = uniqueId("token");
    const field = h("input", { id: tokenId, type: "password", autocomplete: "off" });
    this.root.append(
      h(
        "form",
        {
          class: "inline-form",
          onsubmit: (event) => {
            event.preventDefault();
            this.useToken(field.value);
          },
        },
        h("label", { for: tokenId, text: "Access token" }),
        field,
        h("button", { type: "submit", text: "Sign in" }),
      ),
    );
  }
}
