// The admin desk's suspended bidders: the list, a look-up by user id, and lifting.
import { api, ApiError } from "../api.js";
import { h } from "../dom.js";
import { busy, confirmButton, field, formatWhen, table } from "./common.js";
import { deskErrorText } from "./errors.js";

export class Suspensions {
  constructor({ root, heading, messages, onChanged }) {
    Object.assign(this, { root, heading, messages, onChanged });
    this.lookup = field("User id", h("input", { type: "text", autocomplete: "off", maxlength: "255" }), {
      hint: "Look up any user's strikes by their id (the sub of their sign-in).",
    });
    this.found = h("div", { class: "found" });
    const submit = h("button", { type: "submit", class: "secondary", text: "Look up" });
    this.form = h("form", { class: "inline-form lookup", novalidate: true }, this.lookup.field, submit);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(submit, () => this.find(this.lookup.input.value.trim()));
    });
    this.list = h("div");
  }

  async load() {
    let rows = null;
    try {
      const page = await api("GET", "/api/admin/users?suspended=true&limit=100");
      rows = page.items;
    } catch (error) {
      // A server without the list still lets an admin look users up one by one.
      if (!(error instanceof ApiError) || ![404, 405].includes(error.status)) throw error;
    }
    if (rows === null) this.list.replaceChildren();
    else if (rows.length === 0) this.list.replaceChildren(h("p", { class: "muted", text: "No bidder is suspended." }));
    else {
      this.list.replaceChildren(
        table(
          "Suspended bidders",
          ["User", "Name", "Strikes", "Actions"],
          rows.map((user) => [user.sub, user.name || "—", String(user.strikes), this.liftButton(user)]),
        ),
      );
    }
    if (!this.root.contains(this.form)) this.root.replaceChildren(this.list, this.form, this.found);
  }

  liftButton(user) {
    return confirmButton({
      label: `Lift the suspension of ${user.sub}`,
      question: `Lift the suspension of ${user.sub}? Their ${user.strikes} strikes are cleared and they may bid again.`,
      confirmLabel: "Yes, lift it",
      onConfirm: () => this.lift(user),
    });
  }

  async find(sub) {
    if (!sub) {
      this.messages.fail("Enter a user id to look up.", this.lookup);
      return;
    }
    try {
      const user = await api("GET", `/api/admin/users/${encodeURIComponent(sub)}`);
      this.show(user);
      this.messages.say(
        user.suspended
          ? `${user.sub} is suspended (${user.strikes} strikes).`
          : `${user.sub} is not suspended (${user.strikes} strikes).`,
      );
    } catch (error) {
      this.found.replaceChildren();
      this.messages.fail(
        error.code === "not_found" ? `No user has the id “${sub}”.` : deskErrorText(error),
        this.lookup,
      );
    }
  }

  show(user) {
    const facts = h(
      "p",
      {},
      h("strong", { text: user.name ? `${user.name} (${user.sub})` : user.sub }),
      `: ${user.role}, ${user.strikes} strikes, ${user.suspended ? "suspended" : "may bid"}.`,
      user.suspension_lifted_at ? ` Last suspension lifted ${formatWhen(user.suspension_lifted_at)}.` : "",
    );
    this.found.replaceChildren(facts);
    if (user.suspended) this.found.append(this.liftButton(user));
  }

  async lift(user) {
    try {
      const after = await api("POST", `/api/admin/users/${encodeURIComponent(user.sub)}/lift-suspension`);
      this.messages.say(`The suspension of ${after.sub} was lifted; they may bid again.`);
      this.found.replaceChildren();
    } catch (error) {
      this.messages.fail(`${user.sub}: ${deskErrorText(error)}`);
    }
    await this.onChanged(this.heading);
  }
}
