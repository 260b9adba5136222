// The winner's payment panels, driven by payment_required and the payment_* events.
import { api } from "./api.js";
import { announce } from "./dom.js";
import { formatMoney } from "./money.js";
import { attemptsText, buildPaymentPanel, renderPaymentPanel } from "./payment_panel.js";

const AWAITING = new Set(["CREATING", "REQUIRES_PAYMENT", "REQUIRES_ACTION", "PROCESSING"]);
const EXPIRY_TEXT = {
  window_elapsed: "The time to pay ran out, so the purchase was cancelled.",
  attempts_exhausted: "Too many attempts failed, so the purchase was cancelled.",
};

export class PaymentDesk {
  constructor({ section, list, board, stripeConfig }) {
    this.section = section;
    this.list = list;
    this.board = board;
    this.stripeConfig = stripeConfig;
    this.panels = new Map();
  }

  hasMyPayment(lotId) {
    for (const panel of this.panels.values()) {
      if (panel.info.lot_id === lotId && panel.phase !== "ended") return true;
    }
    return false;
  }

  clear() {
    for (const panel of this.panels.values()) panel.root.remove();
    this.panels.clear();
    this.section.hidden = true;
  }

  /** payment_required, or one of my_payments: show or update its panel. */
  async required(info) {
    let panel = this.panels.get(info.payment_id);
    const fresh = !panel;
    if (fresh) {
      panel = this.build(info);
      this.panels.set(info.payment_id, panel);
      this.list.prepend(panel.root);
      this.section.hidden = false;
    }
    panel.info = { ...panel.info, ...info };
    if (panel.phase !== "confirming") panel.phase = info.status === "REQUIRES_ACTION" ? "action" : "form";
    this.render(panel);
    this.board.rerender(info.lot_id);
    this.titleFor(panel);
    this.board.ensureJoined(info.lot_id);
    if (fresh) {
      const total = formatMoney(info.amount, info.currency);
      announce(`You won a lot. Pay ${total} before the time runs out.`, { urgent: true });
      const focus = document.activeElement;
      if (!focus || focus === document.body || focus.closest(`[data-lot-id="${info.lot_id}"]`)) {
        panel.heading.focus();
      }
    }
  }

  titleFor(panel) {
    const lot = this.board.get(panel.info.lot_id);
    if (lot) panel.title = `“${lot.title}”`;
    this.render(panel);
  }

  /** The board learned about a lot (a snapshot): panels for it can name it now. */
  lotShown(lotId) {
    for (const panel of this.panels.values()) {
      if (panel.info.lot_id === lotId) this.titleFor(panel);
    }
  }

  actionRequired(data) {
    const panel = this.panels.get(data.payment_id);
    if (!panel || panel.phase === "confirming") return;
    panel.info.status = "REQUIRES_ACTION";
    panel.phase = "action";
    this.render(panel);
  }

  failed(data) {
    const panel = this.panels.get(data.payment_id);
    if (!panel) return;
    panel.info.attempts_left = data.attempts_left;
    panel.info.status = "REQUIRES_PAYMENT";
    panel.serverFailureFor = panel.serial;
    const message = `${data.failure_message || "The payment failed."} ${attemptsText(data.attempts_left)}.`;
    panel.error.textContent = message;
    if (panel.phase !== "confirming") panel.phase = "form";
    this.render(panel);
    announce(message, { urgent: true });
  }

  async succeeded(data) {
    const panel = this.panels.get(data.payment_id);
    if (!panel) return;
    panel.phase = "ended";
    panel.info.status = "SUCCEEDED";
    panel.error.textContent = "";
    panel.done.textContent = `Paid ${formatMoney(data.amount, data.currency)}. The lot is yours.`;
    this.render(panel);
    this.board.rerender(data.lot_id);
    announce(`Payment received. You bought ${panel.title}.`, { urgent: true });
    try {
      const receipt = await api("GET", `/api/payments/${data.payment_id}/receipt`);
      const method = receipt.payment_method;
      const brand = method && method.brand ? method.brand[0].toUpperCase() + method.brand.slice(1) : "Card";
      const card = method && method.last4 ? `, ${brand} ending ${method.last4}` : "";
      panel.done.textContent += ` Receipt ${receipt.receipt_number}${card}.`;
    } catch {
      // The receipt stays available from the API; the sale itself is done.
    }
    this.board.refresh(data.lot_id);
  }

  expired(data) {
    const panel = this.panels.get(data.payment_id);
    if (!panel) return;
    panel.phase = "ended";
    panel.info.status = "EXPIRED";
    panel.done.textContent = EXPIRY_TEXT[data.reason] || "This payment is no longer due.";
    this.render(panel);
    this.board.rerender(data.lot_id);
    announce(panel.done.textContent, { urgent: true });
  }

  /** After a reconnect: what still awaits us, and what became of the rest. */
  async reconcile(awaiting) {
    const ids = new Set(awaiting.map((info) => info.payment_id));
    for (const info of awaiting) await this.required(info);
    for (const panel of this.panels.values()) {
      if (ids.has(panel.info.payment_id) || panel.phase === "ended") continue;
      try {
        const record = await api("GET", `/api/payments/${panel.info.payment_id}`);
        if (record.status === "SUCCEEDED") {
          await this.succeeded({ ...record, payment_id: record.id });
        } else if (!AWAITING.has(record.status)) {
          this.expired({ payment_id: record.id, reason: record.end_reason });
        }
      } catch {
        // Still unknown; the next reconnect asks again.
      }
    }
  }

  async pay(panel) {
    panel.serial += 1;
    const serial = panel.serial;
    panel.error.textContent = "";
    panel.phase = "confirming";
    this.render(panel);
    panel.status.textContent = "Confirming your card…";
    let outcome = await panel.entry.confirm(panel.info);
    if (outcome.status === "requires_action") {
      panel.status.textContent = "Your bank asks you to confirm this payment.";
      outcome = await panel.entry.authenticate(panel.info);
    }
    this.settle(panel, serial, outcome);
  }

  async authenticate(panel) {
    panel.serial += 1;
    const serial = panel.serial;
    panel.error.textContent = "";
    panel.phase = "confirming";
    this.render(panel);
    panel.status.textContent = "Your bank asks you to confirm this payment.";
    this.settle(panel, serial, await panel.entry.authenticate(panel.info));
  }

  settle(panel, serial, outcome) {
    if (panel.phase === "ended") return;
    if (outcome.status === "succeeded" || outcome.status === "processing") {
      panel.status.textContent =
        outcome.status === "succeeded"
          ? "Card accepted. Finishing your purchase…"
          : "Your payment is processing…";
      panel.entry.clear();
      panel.phase = "waiting";
      this.render(panel);
      return;
    }
    panel.status.textContent = "";
    panel.phase = "form";
    this.render(panel);
    // The server's payment_failed (with the attempts left) wins over our own first word.
    if (panel.serverFailureFor !== serial) panel.error.textContent = outcome.message;
    if (outcome.status !== "invalid") panel.entry.focus();
  }

  build(info) {
    return buildPaymentPanel(info, {
      stripeConfig: this.stripeConfig,
      onPay: (panel) => this.pay(panel),
      onAuthenticate: (panel) => this.authenticate(panel),
    });
  }

  render(panel) {
    renderPaymentPanel(panel);
  }
}
