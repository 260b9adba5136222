// The admin desk's lots (close now, cancel) and invoices (mark paid).
import { api, ApiError } from "../api.js";
import { h } from "../dom.js";
import { busy, confirmButton, field, formatMoney, formatWhen, table } from "./common.js";
import { deskErrorText } from "./errors.js";

const LOT_STATUS_TEXT = { SCHEDULED: "Not open yet", OPEN: "Open" };

export class LotControls {
  constructor({ root, heading, messages, titles, onChanged }) {
    Object.assign(this, { root, heading, messages, titles, onChanged });
  }

  async load() {
    const pages = await Promise.all(
      ["OPEN", "SCHEDULED"].map((status) => api("GET", `/api/lots?status=${status}&limit=200`)),
    );
    const lots = pages.flatMap((page) => page.items);
    lots.sort((a, b) => Date.parse(a.ends_at) - Date.parse(b.ends_at));
    for (const lot of lots) this.titles.remember(lot);
    if (lots.length === 0) {
      this.root.replaceChildren(h("p", { class: "muted", text: "Every lot has closed." }));
      return;
    }
    this.root.replaceChildren(
      table(
        "Lots not yet closed",
        ["Lot", "Seller", "Status", "Current bid", "Closes", "Actions"],
        lots.map((lot) => [
          h("a", { href: `/lots/${lot.id}`, text: lot.title }),
          lot.seller_id,
          LOT_STATUS_TEXT[lot.status] || lot.status,
          lot.current_bid === null ? "No bids" : formatMoney(lot.current_bid, lot.currency),
          formatWhen(lot.ends_at),
          this.actions(lot),
        ]),
      ),
    );
  }

  actions(lot) {
    const cell = h("div", { class: "actions" });
    if (lot.status === "OPEN") {
      cell.append(
        confirmButton({
          label: `Close “${lot.title}” now`,
          question: `Close “${lot.title}” now? The highest bid wins, as if time had run out.`,
          confirmLabel: "Yes, close it",
          onConfirm: () => this.act(lot, "close"),
        }),
      );
    }
    cell.append(
      confirmButton({
        label: `Cancel “${lot.title}”`,
        question: `Cancel “${lot.title}”? It is withdrawn and nobody wins it.`,
        confirmLabel: "Yes, cancel the lot",
        onConfirm: () => this.act(lot, "cancel"),
      }),
    );
    return cell;
  }

  async act(lot, action) {
    try {
      const after = await api("POST", `/api/lots/${lot.id}/${action}`);
      if (action === "cancel") this.messages.say(`“${lot.title}” was cancelled.`);
      else if (after.status === "PENDING_PAYMENT") {
        this.messages.say(`“${lot.title}” closed at ${formatMoney(after.hammer_price, after.currency)}; the winner is asked to pay.`);
      } else this.messages.say(`“${lot.title}” closed unsold.`);
    } catch (error) {
      this.messages.fail(`“${lot.title}”: ${deskErrorText(error, { currency: lot.currency })}`);
    }
    await this.onChanged(this.heading);
  }
}

const INVOICE_STATUS_TEXT = {
  OPEN: "Collecting lots",
  ISSUED: "Awaiting payment",
  PAID: "Paid",
  PARTIALLY_REFUNDED: "Partly refunded",
  REFUNDED: "Refunded",
  EXPIRED: "Expired",
  VOID: "Void",
};
const PAYABLE = new Set(["ISSUED"]);
const METHODS = [
  ["bank_transfer", "Bank transfer"],
  ["cash", "Cash"],
  ["other", "Other"],
];
const METHOD_TEXT = { stripe: "card", bank_transfer: "bank transfer", cash: "cash", other: "other means" };

function paidText(payment) {
  if (!payment || !payment.paid_at) return "";
  const how = METHOD_TEXT[payment.method] || payment.method;
  const reference = payment.reference ? `, reference ${payment.reference}` : "";
  return ` (by ${how} on ${formatWhen(payment.paid_at)}${reference})`;
}

export class Invoices {
  constructor({ root, heading, messages, onChanged }) {
    Object.assign(this, { root, heading, messages, onChanged });
  }

  async load() {
    let page;
    try {
      page = await api("GET", "/api/admin/invoices?limit=100");
    } catch (error) {
      if (error instanceof ApiError && [404, 405].includes(error.status)) {
        this.root.replaceChildren(h("p", { class: "muted", text: "This server does not issue invoices." }));
        return;
      }
      throw error;
    }
    if (page.items.length === 0) {
      this.root.replaceChildren(h("p", { class: "muted", text: "No invoice has been issued." }));
      return;
    }
    this.root.replaceChildren(h("ul", { class: "cards" }, page.items.map((invoice) => this.item(invoice))));
  }

  item(invoice) {
    const total = formatMoney(invoice.totals.total, invoice.currency);
    const headingId = `invoice-${invoice.id}-heading`;
    const item = h(
      "li",
      { class: "card-item", "data-invoice-id": String(invoice.id) },
      h("h3", { id: headingId, text: `Invoice ${invoice.id}: “${invoice.sale_title}”` }),
      h(
        "p",
        {},
        `Buyer ${invoice.buyer_id}, ${invoice.lines.length} ${invoice.lines.length === 1 ? "lot" : "lots"}, total ${total}: `,
        h("strong", { text: INVOICE_STATUS_TEXT[invoice.status] || invoice.status }),
        paidText(invoice.payment),
        ".",
      ),
    );
    if (PAYABLE.has(invoice.status)) item.append(this.markPaidForm(invoice, headingId));
    return item;
  }

  markPaidForm(invoice, headingId) {
    const method = field(
      "Paid by",
      h("select", {}, METHODS.map(([value, label]) => h("option", { value, text: label }))),
    );
    const reference = field("Reference (optional)", h("input", { type: "text", maxlength: "200", autocomplete: "off" }), {
      hint: "The transfer's reference or the till slip, so the money can be traced.",
    });
    const submit = h("button", { type: "submit", text: "Mark paid" });
    const form = h(
      "form",
      { class: "mark-paid-form", "aria-labelledby": headingId, novalidate: true },
      method.field,
      reference.field,
      submit,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(submit, () => this.markPaid(invoice, method.input.value, reference));
    });
    return form;
  }

  async markPaid(invoice, method, reference) {
    const text = reference.input.value.trim();
    const name = `Invoice ${invoice.id}`;
    const body = text ? { method, reference: text } : { method };
    try {
      const paid = await api("POST", `/api/admin/invoices/${invoice.id}/mark-paid`, body);
      const receipt = paid.payment && paid.payment.receipt_number ? `; receipt ${paid.payment.receipt_number}` : "";
      this.messages.say(
        `${name} (“${invoice.sale_title}”) is marked paid: ${formatMoney(invoice.totals.total, invoice.currency)}${receipt}.`,
      );
    } catch (error) {
      this.messages.fail(`${name}: ${deskErrorText(error, { currency: invoice.currency })}`);
      return;
    }
    await this.onChanged(this.heading);
  }
}
