// What the seller and admin desks share: sign-in for a role, one message line, amounts
// typed in the user's locale, lot titles, and small building blocks (tables, confirmations).
import { ApiError, api, onUnauthorized, useToken } from "../api.js";
import { h, uniqueId } from "../dom.js";
import * as money from "../money.js";
import { Session } from "../session.js";

export const $ = (id) => document.getElementById(id);

/**
 * The desk's one message line: every message replaces the one before it, whatever part of
 * the desk said it. Successes go to a polite status region, failures to an alert.
 */
export class MessageLine {
  constructor(root) {
    this.status = h("p", { class: "desk-status", role: "status" });
    this.alert = h("p", { class: "desk-error", role: "alert" });
    root.replaceChildren(this.status, this.alert);
  }

  say(text) {
    this.clear();
    this.status.textContent = text;
  }

  /**
   * Show a failure. `entry` (from `field`) also gets it beside its input, and the focus;
   * `more` are further [entry, text] pairs shown beside their inputs (a form's other problems).
   */
  fail(text, entry = null, more = []) {
    this.clear();
    this.alert.textContent = text;
    for (const [other, otherText] of more) markField(other, otherText);
    if (entry) {
      markField(entry, text);
      entry.input.focus();
    }
  }

  /** Old messages go, including those beside form fields. */
  clear() {
    this.status.textContent = "";
    this.alert.textContent = "";
    for (const error of document.querySelectorAll(".field > .error")) error.textContent = "";
    for (const input of document.querySelectorAll("[aria-invalid='true']")) input.removeAttribute("aria-invalid");
  }
}

/** The user's locale: the one they read and type numbers in. */
export const userLocale = money.userLocale;

/**
 * What a person typed in major units, in their own locale ("450,00" in de-DE, "450.00" in
 * en-US) → minor units. Throws an Error whose message is for the person.
 */
export function parseAmountInput(text, currency) {
  return money.parseAmount(text, currency, userLocale());
}

/** 45000, "usd" → "450.00" or "450,00": what an amount box shows, in the user's locale. */
export function amountInputText(amount, currency) {
  return money.toInputString(amount, currency, userLocale());
}

export const formatMoney = money.formatMoney;

/** A payment's status in words. */
const PAYMENT_STATUS_TEXT = {
  CREATING: "Being created",
  REQUIRES_PAYMENT: "Awaiting the buyer",
  REQUIRES_ACTION: "Awaiting the buyer's bank",
  PROCESSING: "Processing",
  SUCCEEDED: "Paid",
  FAILED: "Failed",
  EXPIRED: "Expired",
  CANCELED: "Cancelled",
  PARTIALLY_REFUNDED: "Partly refunded",
  REFUNDED: "Refunded",
};

export const statusText = (status) => PAYMENT_STATUS_TEXT[status] || status;


/** A bare integer in a server message about money is minor units: show it in major units. */
export function inMajorUnits(message, currency) {
  return String(message || "").replace(/(?<![\w.'])(\d+)(?![\w.'])/g, (digits) =>
    money.formatMoney(Number(digits), currency),
  );
}

/** "6 Dec 2026, 09:30" in the viewer's locale and time zone. */
export function formatWhen(iso) {
  if (!iso) return "—";
  return new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(iso),
  );
}

/** Titles of lots by id, fetched once each (payments and invoices carry only lot ids). */
export class LotTitles {
  constructor() {
    this.known = new Map();
  }

  remember(lot) {
    this.known.set(lot.id, lot);
  }

  async lot(lotId) {
    if (!this.known.has(lotId)) {
      try {
        this.known.set(lotId, await api("GET", `/api/lots/${lotId}`));
      } catch {
        return null;
      }
    }
    return this.known.get(lotId);
  }

  async title(lotId) {
    const lot = await this.lot(lotId);
    return lot ? lot.title : `Lot ${lotId}`;
  }
}

/** Sign-in for a desk: the demo seller or admin in dev mode, a pasted token otherwise. */
export class DeskSession extends Session {
  constructor({ root, config, onChange, role, guestText }) {
    const users = (config.desk_users || []).filter((user) => user.role === role);
    super({ root, config: { ...config, demo_users: users }, onChange, verb: "Signed in" });
    this.guestText = guestText;
  }

  render() {
    super.render();
    // The shared session speaks to bidders; at a desk the sign-in is for the desk.
    for (const note of this.root.querySelectorAll(".error, .warning")) {
      note.textContent = note.textContent.replace(/ to (bid|keep bidding)\./, " to use the desk.");
    }
    const who = this.root.querySelector(".who");
    if (this.user && who && who.firstChild && who.firstChild.nodeType === Node.TEXT_NODE) {
      who.firstChild.textContent = "Signed in as ";
    } else if (!this.user && who) {
      who.textContent = this.guestText;
    }
  }
}

/**
 * Load the desk's config and sign-in. `onUser(user, {session, config})` runs on every
 * sign-in and sign-out, after the token is in use. Returns null when the server could not be reached.
 */
export async function startDesk({ role, guestText, onUser, messages }) {
  let config;
  try {
    config = await api("GET", "/api/demo/config");
  } catch (error) {
    messages.fail(`The desk cannot start: ${error.message}`);
    return null;
  }
  money.configureCurrencies(config.currencies);
  const session = new DeskSession({
    root: $("session"),
    config,
    role,
    guestText,
    onChange(user, token) {
      useToken(token);
      onUser(user, { session, config });
    },
  });
  // A token the server refuses (expired, revoked) signs the desk out, and says so.
  onUnauthorized((message) => session.refused(message));
  session.restore();
  return { config, session };
}

export function markField(entry, text) {
  entry.error.textContent = text;
  entry.input.setAttribute("aria-invalid", "true");
}

/** A labelled field: {field, input, error, label}. `input` is any form control. */
export function field(label, input, { hint } = {}) {
  const id = input.id || uniqueId("field");
  input.id = id;
  const error = h("p", { class: "error", id: `${id}-error` });
  const hintEl = hint ? h("p", { class: "hint", id: `${id}-hint`, text: hint }) : null;
  input.setAttribute("aria-describedby", [hintEl && hintEl.id, error.id].filter(Boolean).join(" "));
  const labelEl = h("label", { for: id, text: label });
  const wrapper = h("div", { class: "field" }, labelEl, input, hintEl, error);
  return { field: wrapper, input, error, label: labelEl };
}

/** A table with a caption; `rows` are arrays of cells (text or nodes). */
export function table(caption, headings, rows) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "desk-table" },
      h("caption", { class: "visually-hidden", text: caption }),
      h("thead", {}, h("tr", {}, headings.map((text) => h("th", { scope: "col", text })))),
      h(
        "tbody",
        {},
        rows.map((cells) =>
          h(
            "tr",
            {},
            cells.map((cell, index) =>
              h(
                "td",
                { "data-label": headings[index] },
                h("div", { class: "cell" }, cell === null || cell === undefined ? "—" : cell),
              ),
            ),
          ),
        ),
      ),
    ),
  );
}

/**
 * A button that asks before it acts: the first press shows "confirm" and "keep" buttons in
 * its place (focus moves to "keep", the safe one); Escape or "keep" puts it back.
 */
export function confirmButton({ label, question, confirmLabel, onConfirm, className = "secondary" }) {
  const holder = h("span", { class: "desk-confirm" });
  const ask = h("button", { type: "button", class: className, text: label });
  const restore = () => {
    holder.replaceChildren(ask);
    ask.focus();
  };
  ask.addEventListener("click", () => {
    const yes = h("button", { type: "button", class: "danger", text: confirmLabel });
    const no = h("button", { type: "button", class: "secondary", text: "Keep it", onclick: restore });
    const group = h(
      "span",
      { class: "desk-confirm-step", role: "group", "aria-label": question },
      h("span", { class: "desk-confirm-question", text: question }),
      yes,
      no,
    );
    group.addEventListener("keydown", (event) => {
      if (event.key === "Escape") restore();
    });
    yes.addEventListener("click", async () => {
      yes.disabled = true;
      no.disabled = true;
      try {
        await onConfirm();
      } finally {
        if (holder.isConnected) restore();
      }
    });
    holder.replaceChildren(group);
    no.focus();
  });
  holder.append(ask);
  return holder;
}

/**
 * The first failure of a desk's reload, said on the message line. A failure that is not the
 * server's answer is a fault in the desk itself: it also goes to the console as one.
 */
export function reportReload(results, messages, describe) {
  const failed = results.find((result) => result.status === "rejected");
  if (!failed) return;
  if (!(failed.reason instanceof ApiError)) console.assert(false, `desk fault: ${failed.reason && failed.reason.stack}`);
  messages.fail(`The desk could not be brought up to date: ${describe(failed.reason)}`);
}

/** Run `action` with `button` disabled, so a double press acts once. */
export async function busy(button, action) {
  if (button.disabled) return;
  button.disabled = true;
  try {
    await action();
  } finally {
    button.disabled = false;
  }
}
