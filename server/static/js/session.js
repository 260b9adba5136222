// Who is using the page: a demo user (dev mode), a pasted token, or a guest who only watches.
//
// The sign-in lives in localStorage, so every tab of this browser shares it: a second tab
// starts signed in, and signing out (or in) in one tab does so in all of them. A token that
// expires, or that the server refuses, never signs the user out silently: the page says so
// and offers to sign in again.
import { api } from "./api.js";
import { h, uniqueId } from "./dom.js";

const SESSION_KEY = "auction.session";
/** Warn this long before the token runs out. */
const EXPIRY_WARNING_MS = 5 * 60_000;

/** The claims of a JWT, for display only: the server is what checks it. */
export function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

function readSaved() {
  try {
    return JSON.parse(localStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

export class Session {
  constructor({ root, config, onChange, verb = "Bidding" }) {
    this.root = root;
    this.config = config;
    this.onChange = onChange;
    this.verb = verb;
    this.user = null;
    this.token = null;
    this.message = "";
    this.expiryTimer = null;
    // Another tab signed in or out: follow it.
    window.addEventListener("storage", (event) => {
      if (event.key !== SESSION_KEY) return;
      const saved = readSaved();
      if ((saved && saved.token) === this.token) return;
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

  /** Say so before the token runs out, and when it has. */
  watchExpiry() {
    clearTimeout(this.expiryTimer);
    const claims = this.token && claimsOf(this.token);
    if (!claims || typeof claims.exp !== "number") return;
    const left = claims.exp * 1000 - Date.now();
    if (left <= 0) {
      this.expired("Your sign-in expired. Sign in again to bid.");
    } else if (left > EXPIRY_WARNING_MS) {
      this.expiryTimer = setTimeout(() => this.watchExpiry(), Math.min(left - EXPIRY_WARNING_MS, 2 ** 31 - 1));
    } else {
      this.warning = "Your sign-in expires in a few minutes. Sign in again to keep bidding.";
      this.render();
      this.expiryTimer = setTimeout(() => this.watchExpiry(), left + 100);
    }
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
