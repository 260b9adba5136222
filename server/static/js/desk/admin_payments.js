// The admin desk's payments: those needing attention (retry, release) and refunds.
import { api } from "../api.js";
import { h, uniqueId } from "../dom.js";
import {
  amountInputText,
  busy,
  confirmButton,
  field,
  formatMoney,
  formatWhen,
  parseAmountInput,
  statusText,
  table,
} from "./common.js";
import { deskErrorText } from "./errors.js";

/** Payments the buyer may still pay: only these can be released. */
const AWAITING = new Set(["CREATING", "REQUIRES_PAYMENT", "REQUIRES_ACTION", "PROCESSING"]);

/** What a payment pays for: its lot's title, or (a sale's one payment) its invoice. */
async function subject(titles, payment) {
  if (payment.lot_id === null || payment.lot_id === undefined) return `invoice ${payment.invoice_id}`;
  return titles.title(payment.lot_id);
}

async function lotCell(titles, payment) {
  if (payment.lot_id === null || payment.lot_id === undefined) return `Invoice ${payment.invoice_id}`;
  const title = await titles.title(payment.lot_id);
  return h("a", { href: `/lots/${payment.lot_id}`, text: title });
}

export class AttentionList {
  constructor({ root, heading, messages, titles, onChanged }) {
    Object.assign(this, { root, heading, messages, titles, onChanged });
  }

  async load() {
    const page = await api("GET", "/api/admin/payments?attention=true&limit=100");
    if (page.items.length === 0) {
      this.root.replaceChildren(h("p", { class: "muted", text: "No payment needs attention." }));
      return;
    }
    const rows = [];
    for (const payment of page.items) {
      rows.push([
        `#${payment.id}`,
        await lotCell(this.titles, payment),
        payment.buyer_id,
        statusText(payment.status),
        formatMoney(payment.amount, payment.currency),
        h(
          "span",
          {},
          payment.attention.message,
          h("br"),
          h("span", { class: "muted", text: `since ${formatWhen(payment.attention.since)}` }),
        ),
        this.actions(payment),
      ]);
    }
    this.root.replaceChildren(
      table(
        "Payments needing attention",
        ["Payment", "Lot", "Buyer", "Status", "Amount", "What Stripe refused", "Actions"],
        rows,
      ),
    );
  }

  actions(payment) {
    const retry = h("button", { type: "button", text: "Retry", "aria-label": `Retry payment ${payment.id}` });
    retry.addEventListener("click", () => busy(retry, () => this.retry(payment)));
    const cell = h("div", { class: "actions" }, retry);
    if (AWAITING.has(payment.status)) {
      cell.append(
        confirmButton({
          label: `Release payment ${payment.id}`,
          question: `Release payment ${payment.id}? The buyer gets no strike and the lot goes to the next bidder, or ends unsold.`,
          confirmLabel: "Yes, release it",
          onConfirm: () => this.release(payment),
        }),
      );
    }
    return cell;
  }

  async retry(payment) {
    const title = await subject(this.titles, payment);
    try {
      const record = await api("POST", `/api/admin/payments/${payment.id}/retry`);
      this.messages.say(
        record.attention
          ? `Stripe refused payment ${payment.id} (“${title}”) again: ${record.attention.message}`
          : `Payment ${payment.id} (“${title}”) is on its way again: ${statusText(record.status).toLowerCase()}.`,
      );
    } catch (error) {
      this.messages.fail(`Payment ${payment.id}: ${deskErrorText(error, { currency: payment.currency })}`);
    }
    await this.onChanged(this.heading);
  }

  async release(payment) {
    const title = await subject(this.titles, payment);
    try {
      await api("POST", `/api/admin/payments/${payment.id}/release`);
      this.messages.say(`Payment ${payment.id} (“${title}”) was released; the buyer gets no strike.`);
    } catch (error) {
      this.messages.fail(`Payment ${payment.id}: ${deskErrorText(error, { currency: payment.currency })}`);
    }
    await this.onChanged(this.heading);
  }
}

export class RefundList {
  constructor({ root, heading, messages, titles, onChanged }) {
    Object.assign(this, { root, heading, messages, titles, onChanged });
  }

  async load() {
    const pages = await Promise.all(
      ["SUCCEEDED", "PARTIALLY_REFUNDED"].map((status) =>
        api("GET", `/api/admin/payments?status=${status}&limit=50`),
      ),
    );
    const payments = pages.flatMap((page) => page.items).sort((a, b) => b.id - a.id);
    if (payments.length === 0) {
      this.root.replaceChildren(h("p", { class: "muted", text: "No paid payment can be refunded." }));
      return;
    }
    const items = [];
    for (const payment of payments) items.push(await this.item(payment));
    this.root.replaceChildren(h("ul", { class: "cards" }, items));
  }

  async item(payment) {
    const title = await subject(this.titles, payment);
    const money = (amount) => formatMoney(amount, payment.currency);
    const left = payment.amount - payment.refunded_amount;
    const headingId = uniqueId("refund-payment");
    const amount = field(
      `Amount to refund (${payment.currency.toUpperCase()})`,
      h("input", { type: "text", inputmode: "decimal", autocomplete: "off", value: amountInputText(left, payment.currency) }),
      { hint: `At most ${money(left)}. Leave as is for a full refund of what is left.` },
    );
    const reason = field("Reason (optional)", h("input", { type: "text", maxlength: "500", autocomplete: "off" }));
    const submit = h("button", { type: "submit", text: "Refund" });
    const form = h(
      "form",
      { class: "refund-form", "aria-labelledby": headingId, novalidate: true },
      amount.field,
      reason.field,
      submit,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(submit, () => this.refund(payment, title, amount, reason));
    });
    return h(
      "li",
      { class: "card-item", "data-payment-id": String(payment.id) },
      h("h3", { id: headingId, text: `Payment ${payment.id}: “${title}”` }),
      h(
        "p",
        {},
        `Buyer ${payment.buyer_id} paid ${money(payment.amount)} on ${formatWhen(payment.paid_at)}. `,
        payment.refunded_amount > 0 ? `Refunded so far: ${money(payment.refunded_amount)}.` : "Nothing refunded yet.",
      ),
      form,
    );
  }

  async refund(payment, title, amountField, reasonField) {
    let amount;
    try {
      amount = parseAmountInput(amountField.input.value, payment.currency);
    } catch (error) {
      this.messages.fail(`Payment ${payment.id}: ${error.message}`, amountField);
      return;
    }
    const body = { amount };
    const reason = reasonField.input.value.trim();
    if (reason) body.reason = reason;
    try {
      const answer = await api("POST", `/api/payments/${payment.id}/refund`, body);
      const done = answer.refund.status === "succeeded" ? "Refunded" : "Refund of";
      const tail = answer.refund.status === "succeeded" ? "" : " sent; Stripe reports it pending";
      this.messages.say(
        `${done} ${formatMoney(answer.refund.amount, payment.currency)}${tail} on payment ${payment.id} (“${title}”).`,
      );
    } catch (error) {
      const text = `Payment ${payment.id}: ${deskErrorText(error, { currency: payment.currency })}`;
      if (error.code === "refund_exceeds_payment" || error.code === "validation_error") {
        this.messages.fail(text, amountField);
        return;
      }
      this.messages.fail(text);
    }
    await this.onChanged(this.heading);
  }
}
