// Who is bidding: a demo user (dev mode), a pasted token, or a guest who only watches.
import { api } from "./api.js";
import { h, uniqueId } from "./dom.js";

const SESSION_KEY = "auction.session";

/** The claims of a JWT, for display only: the server is what checks it. */
function claimsOf(token) {
  try {
    const payload = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
    return JSON.parse(atob(payload));
  } catch {
    return null;
  }
}

export class Session {
  constructor({ root, config, onChange }) {
    this.root = root;
    this.config = config;
    this.onChange = onChange;
    this.user = null;
    this.token = null;
    this.message = "";
  }

  restore() {
    let saved = null;
    try {
      saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    } catch {
      saved = null;
    }
    const claims = saved && claimsOf(saved.token);
    if (claims && claims.exp * 1000 > Date.now()) this.set(saved.user, saved.token);
    else this.set(null, null);
  }

  set(user, token, message = "") {
    this.user = user;
    this.token = token;
    this.message = message;
    if (token) sessionStorage.setItem(SESSION_KEY, JSON.stringify({ user, token }));
    else sessionStorage.removeItem(SESSION_KEY);
    this.render();
    this.onChange(user, token);
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
    this.set(null, null, `Signed out: ${message}`);
  }

  render() {
    this.root.replaceChildren();
    if (this.user) {
      this.root.append(
        h(
          "p",
          { class: "who" },
          "Bidding as ",
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
      return;
    }
    this.root.append(h("p", { class: "who", text: "Watching as a guest. Sign in to bid." }));
    if (this.config.dev_mode) this.renderDemoUsers();
    else this.renderTokenForm();
    if (this.message) this.root.append(h("p", { class: "error", role: "alert", text: this.message }));
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
