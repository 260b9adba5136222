// The admin desk's invoices: mark paid (money taken at the desk), refunds by lot or amount.
import { api, ApiError } from "../api.js";
import { h } from "../dom.js";
import { busy, confirmButton, field, formatMoney, formatWhen, parseAmountInput } from "./common.js";
import { deskErrorText } from "./errors.js";

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
const REFUNDABLE = new Set(["PAID", "PARTIALLY_REFUNDED"]);
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

function typedInputs(root) {
  const typed = [];
  for (const item of root.querySelectorAll("li[data-invoice-id]")) {
    item.querySelectorAll("input[type=text]").forEach((input, index) => {
      const focused = document.activeElement === input;
      if (input.value || focused) {
        typed.push({ id: item.dataset.invoiceId, index, value: input.value, focused });
      }
    });
  }
  return typed;
}

function restoreTyped(root, typed) {
  for (const { id, index, value, focused } of typed) {
    const item = root.querySelector(`li[data-invoice-id="${CSS.escape(id)}"]`);
    const input = item?.querySelectorAll("input[type=text]")[index];
    if (!input) continue;
    input.value = value;
    if (focused) input.focus();
  }
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
    // A redraw (after a refund, a refresh) keeps what the admin is typing and where.
    const typed = typedInputs(this.root);
    this.root.replaceChildren(h("ul", { class: "cards" }, page.items.map((invoice) => this.item(invoice))));
    restoreTyped(this.root, typed);
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
    if (invoice.attention) {
      item.append(h("p", { role: "note" }, h("strong", { text: "For the desk: " }), invoice.attention.message));
    }
    if (PAYABLE.has(invoice.status)) item.append(this.markPaidForm(invoice, headingId));
    if (REFUNDABLE.has(invoice.status)) item.append(...this.refundControls(invoice, headingId));
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

  /** A paid invoice: refund one lot's line (a lot returned), or an amount, newest lines first. */
  refundControls(invoice, headingId) {
    const money = (amount) => formatMoney(amount, invoice.currency);
    const lines = h(
      "ul",
      { class: "invoice-lines", "aria-label": `Lots of invoice ${invoice.id}` },
      invoice.lines.map((line) => {
        const left = line.total - line.refunded;
        const label = `Lot ${line.lot_number || line.lot_id}: “${line.lot_title}”`;
        return h(
          "li",
          {},
          h("span", {
            text: `${label}, ${money(line.total)}${line.refunded ? `, refunded ${money(line.refunded)}` : ""}. `,
          }),
          left > 0
            ? confirmButton({
                label: `Refund lot ${line.lot_number || line.lot_id}`,
                question: `Refund ${money(left)} for ${label}?`,
                confirmLabel: "Yes, refund it",
                onConfirm: () => this.refund(invoice, { line_id: line.id }),
              })
            : null,
        );
      }),
    );
    const left = invoice.totals.total - invoice.totals.refunded;
    const amount = field(
      `Amount to refund (${invoice.currency.toUpperCase()})`,
      h("input", { type: "text", inputmode: "decimal", autocomplete: "off" }),
      { hint: `At most ${money(left)}, taken from the newest lots first.` },
    );
    const submit = h("button", { type: "submit", class: "secondary", text: "Refund amount" });
    const form = h("form", { class: "refund-form", "aria-labelledby": headingId, novalidate: true }, amount.field, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(submit, async () => {
        let minor;
        try {
          minor = parseAmountInput(amount.input.value, invoice.currency);
        } catch (error) {
          this.messages.fail(`Invoice ${invoice.id}: ${error.message}`, amount);
          return;
        }
        await this.refund(invoice, { amount: minor }, amount);
      });
    });
    return [lines, form];
  }

  async refund(invoice, body, amountField = null) {
    const name = `Invoice ${invoice.id}`;
    try {
      const after = await api("POST", `/api/admin/invoices/${invoice.id}/refund`, body);
      const refunded = after.totals.refunded - invoice.totals.refunded;
      this.messages.say(`Refunded ${formatMoney(refunded, invoice.currency)} on ${name} (“${invoice.sale_title}”).`);
    } catch (error) {
      const text = `${name}: ${deskErrorText(error, { currency: invoice.currency })}`;
      const onField = amountField && ["refund_exceeds_payment", "validation_error"].includes(error.code);
      this.messages.fail(text, onField ? amountField : null);
      if (onField) return;
    }
    await this.onChanged(this.heading);
  }
}
