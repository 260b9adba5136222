// The seller desk's lot form: a new lot, or an edit of one with no bids yet, and its images.
import { api } from "../api.js";
import { h } from "../dom.js";
import { amountInputText, busy, field, formatWhen, parseAmountInput } from "./common.js";
import { deskErrorText, fieldMessage } from "./errors.js";
import { IMAGE_TYPES, makeCover, removeImage, thumbnails, uploadAll } from "./images.js";

const CURRENCIES = ["usd", "eur", "gbp", "chf", "cad", "aud", "sek", "jpy", "kwd"];
const PRICES = [
  ["starting_price", "Starting price", true],
  ["reserve_price", "Reserve price (optional, kept secret)", false],
  ["bid_increment", "Bid increment (optional)", false],
  ["buy_now_price", "Buy-now price (optional)", false],
];

/** "2026-12-06T10:30" (a datetime-local value, the viewer's time) ↔ ISO text. */
function localInput(iso) {
  const at = new Date(iso);
  const pad = (n) => String(n).padStart(2, "0");
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

function tomorrow() {
  const at = new Date(Date.now() + 24 * 3600_000);
  at.setSeconds(0, 0);
  return at.toISOString();
}

export class LotEditor {
  constructor({ root, heading, messages, session, config, onSaved }) {
    Object.assign(this, { root, heading, messages, session, config, onSaved });
    this.editing = null;
    this.build();
    this.reset();
  }

  build() {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    this.fields = {
      title: field("Title", h("input", { type: "text", maxlength: "200", autocomplete: "off", required: true })),
      description: field("Description (optional)", h("textarea", { maxlength: "10000", rows: "4" })),
      sale: field("Sale", h("select", {}), {
        hint: "A lot of a sale takes the sale's currency and closes on the sale's schedule.",
      }),
      currency: field(
        "Currency",
        h("select", {}, CURRENCIES.map((code) => h("option", { value: code, text: code.toUpperCase() }))),
      ),
      starts_at: field("Opens at (optional)", h("input", { type: "datetime-local" }), {
        hint: `Your time zone: ${zone}. Empty: bidding opens at once.`,
      }),
      ends_at: field("Closes at", h("input", { type: "datetime-local", required: true }), {
        hint: `Your time zone: ${zone}.`,
      }),
      files: field("Images", h("input", { type: "file", multiple: true, accept: IMAGE_TYPES.join(",") }), {
        hint: "JPEG, PNG or WebP. The first image is the cover; thumbnails are made for you.",
      }),
    };
    for (const [name, label, required] of PRICES) {
      this.fields[name] = field(label, h("input", { type: "text", inputmode: "decimal", autocomplete: "off", required }));
      this.fields[name].baseLabel = label;
    }
    this.fields.currency.input.addEventListener("change", () => this.relabel());
    this.fields.sale.input.addEventListener("change", () => this.saleChosen());
    this.sales = [];
    this.fields.description.field.classList.add("wide");
    this.fields.title.field.classList.add("wide");
    this.gallery = h("div", { class: "wide desk-gallery" });
    this.submit = h("button", { type: "submit" });
    this.stop = h("button", { type: "button", class: "secondary", text: "Stop editing", onclick: () => this.reset(true) });
    const f = this.fields;
    this.form = h(
      "form",
      { class: "lot-form", novalidate: true, "aria-labelledby": this.heading.id },
      f.title.field,
      f.description.field,
      f.sale.field,
      f.currency.field,
      PRICES.map(([name]) => f[name].field),
      f.starts_at.field,
      f.ends_at.field,
      this.gallery,
      f.files.field,
      h("div", { class: "form-actions" }, this.submit, this.stop),
    );
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(this.submit, () => this.save());
    });
    this.root.replaceChildren(this.form);
  }

  get currency() {
    return this.fields.currency.input.value;
  }

  relabel() {
    const code = this.currency.toUpperCase();
    for (const [name] of PRICES) {
      const entry = this.fields[name];
      entry.label.textContent = entry.baseLabel.replace(/^([^(]+?)( \(|$)/, `$1 (${code})$2`);
      entry.input.removeAttribute("placeholder");
    }
  }

  /** Back to a new lot; `focus` moves the focus to the form's heading. */
  /** The seller's sales still taking lots, offered in the form. */
  setSales(sales) {
    this.sales = sales;
    const select = this.fields.sale.input;
    const chosen = select.value;
    select.replaceChildren(
      h("option", { value: "", text: "None: a lot on its own" }),
      ...sales.map((sale) =>
        h("option", {
          value: String(sale.id),
          text: `${sale.title} (${sale.currency.toUpperCase()}, lots close from ${formatWhen(sale.lots_close_from)})`,
        }),
      ),
    );
    if (sales.some((sale) => String(sale.id) === chosen)) select.value = chosen;
    this.fields.sale.field.hidden = sales.length === 0 && !this.editing;
    this.saleChosen();
  }

  get sale() {
    const id = Number(this.fields.sale.input.value);
    return this.sales.find((sale) => sale.id === id) || null;
  }

  /** In a sale: its currency, its schedule; otherwise the seller's own choices. */
  saleChosen() {
    const sale = this.editing ? null : this.sale;
    const f = this.fields;
    if (sale) f.currency.input.value = sale.currency;
    f.currency.input.disabled = Boolean(sale) || Boolean(this.editing && this.editing.sale_id);
    f.ends_at.field.hidden = Boolean(sale) || Boolean(this.editing && this.editing.sale_id);
    this.relabel();
  }

  reset(focus = false) {
    this.editing = null;
    this.form.reset();
    this.heading.textContent = "New lot";
    this.submit.textContent = "Create lot";
    this.stop.hidden = true;
    this.gallery.replaceChildren();
    this.fields.ends_at.input.value = localInput(tomorrow());
    this.fields.sale.input.disabled = false;
    this.setSales(this.sales);
    if (focus) this.heading.focus();
  }

  edit(lot) {
    this.editing = lot;
    const f = this.fields;
    f.title.input.value = lot.title;
    f.description.input.value = lot.description || "";
    f.currency.input.value = lot.currency;
    // A lot stays in the sale it was catalogued in.
    f.sale.input.value = lot.sale_id ? String(lot.sale_id) : "";
    f.sale.input.disabled = true;
    this.saleChosen();
    f.starting_price.input.value = amountInputText(lot.starting_price, lot.currency);
    f.reserve_price.input.value = "";
    f.reserve_price.input.placeholder = lot.has_reserve ? "Unchanged (secret)" : "";
    f.bid_increment.input.value = lot.bid_increment ? amountInputText(lot.bid_increment, lot.currency) : "";
    f.buy_now_price.input.value = lot.buy_now_price ? amountInputText(lot.buy_now_price, lot.currency) : "";
    f.starts_at.input.value = localInput(lot.starts_at);
    f.ends_at.input.value = localInput(lot.ends_at);
    f.files.input.value = "";
    this.heading.textContent = `Edit “${lot.title}”`;
    this.submit.textContent = "Save changes";
    this.stop.hidden = false;
    this.showImages(lot);
    this.heading.focus();
  }

  showImages(lot) {
    this.gallery.replaceChildren(
      h("p", { class: "field-label", text: "Current images" }),
      thumbnails(lot, {
        onRemove: (image, index) => this.remove(lot, image, index),
        onCover: (image, index) => this.cover(lot, image, index),
      }),
    );
  }

  async cover(lot, image, index) {
    try {
      const fresh = await makeCover(lot, image);
      this.editing = fresh;
      this.showImages(fresh);
      this.messages.say(`Image ${index + 1} is now the cover of “${lot.title}”.`);
      this.heading.focus();
      await this.onSaved(fresh, { quiet: true });
    } catch (error) {
      this.messages.fail(`“${lot.title}”: ${deskErrorText(error)}`);
    }
  }

  async remove(lot, image, index) {
    try {
      await removeImage(lot.id, image.id);
      const fresh = await api("GET", `/api/lots/${lot.id}`);
      this.editing = fresh;
      this.showImages(fresh);
      this.messages.say(`Image ${index + 1} of “${lot.title}” was removed.`);
      this.heading.focus();
      await this.onSaved(fresh);
    } catch (error) {
      this.messages.fail(`“${lot.title}”: ${deskErrorText(error)}`);
    }
  }

  /** The form as a request body, or null after reporting what is wrong. */
  collect() {
    const f = this.fields;
    const problems = [];
    const body = {
      title: f.title.input.value.trim(),
      description: f.description.input.value.trim(),
      currency: this.currency,
    };
    if (!body.title) problems.push([f.title, "Give the lot a title."]);
    for (const [name, label, required] of PRICES) {
      const text = f[name].input.value.trim();
      if (!text) {
        if (required) problems.push([f[name], `${label}: enter an amount.`]);
        else if (!this.editing || name !== "reserve_price") body[name] = null;
        continue;
      }
      try {
        body[name] = parseAmountInput(text, this.currency);
      } catch (error) {
        problems.push([f[name], `${label.replace(/ \(.*$/, "")}: ${error.message}`]);
      }
    }
    const sale = this.editing ? null : this.sale;
    if (sale) body.sale_id = sale.id;
    for (const name of ["starts_at", "ends_at"]) {
      if (f[name].field.hidden) continue;
      const value = f[name].input.value;
      if (value) body[name] = new Date(value).toISOString();
      else if (name === "ends_at") problems.push([f.ends_at, "Choose when bidding closes."]);
    }
    if (problems.length > 0) {
      const [[entry, text], ...more] = problems;
      this.messages.fail(text, entry, more);
      return null;
    }
    return body;
  }

  /** Only what changed: an open lot's past start is not sent back. */
  changes(body) {
    const lot = this.editing;
    const changed = {};
    for (const [name, value] of Object.entries(body)) {
      const before = name.endsWith("_at") ? new Date(lot[name]).toISOString() : lot[name];
      const same = name.endsWith("_at") ? localInput(before) === localInput(value) : before === value;
      if (!same && !(value === null && (before === null || before === undefined))) changed[name] = value;
    }
    return changed;
  }

  async save() {
    const body = this.collect();
    if (!body) return;
    const editing = this.editing;
    let lot;
    try {
      if (editing) lot = await api("PATCH", `/api/lots/${editing.id}`, this.changes(body));
      else {
        if (!body.starts_at) delete body.starts_at;
        for (const name of Object.keys(body)) if (body[name] === null) delete body[name];
        lot = await api("POST", "/api/lots", body);
      }
    } catch (error) {
      this.refused(error, editing);
      return;
    }
    const files = [...this.fields.files.input.files];
    const { uploaded, refused } = await uploadAll(lot.id, files, {
      token: this.session.token,
      maxBytes: this.config.media && this.config.media.max_bytes,
    });
    const images = uploaded.length ? ` ${uploaded.length} ${uploaded.length === 1 ? "image" : "images"} uploaded.` : "";
    const where = lot.lot_number ? ` as lot ${lot.lot_number} of “${this.sale ? this.sale.title : "the sale"}”` : "";
    const done = editing
      ? `Your changes to “${lot.title}” were saved.`
      : `“${lot.title}” was created${where}; bidding closes ${formatWhen(lot.ends_at)}.`;
    this.reset();
    await this.onSaved(lot);
    if (refused.length) this.messages.fail(`${done}${images} ${refused.join(" ")}`);
    else this.messages.say(`${done}${images}`);
  }

  refused(error, editing) {
    const fields = (error.details && error.details.fields) || {};
    const entries = Object.entries(fields)
      .filter(([name]) => this.fields[name])
      .map(([name, text]) => [this.fields[name], fieldMessage(text)]);
    const what = editing ? `“${editing.title}” was not changed` : "The lot was not created";
    const text = `${what}: ${deskErrorText(error, { currency: this.currency })}`;
    if (entries.length) {
      const [[entry], ...more] = entries;
      this.messages.fail(text, entry, more);
      // Beside the first field: its own problem, not the whole sentence.
      entry.error.textContent = entries[0][1];
    } else this.messages.fail(text);
  }
}
