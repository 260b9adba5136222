// The winner's payment panels, driven by payment_required and the payment_* events.
import { api } from "./api.js";
import { announce } from "./dom.js";
import { paymentFailureText } from "./errors.js";
import { formatMoney } from "./money.js";
import {
  attemptsText,
  buildPaymentPanel,
  isSecondChance,
  renderPaymentPanel,
  say,
} from "./payment_panel.js";
import { invoiceLink, receiptLink } from "./receipts.js";

const AWAITING = new Set(["CREATING", "REQUIRES_PAYMENT", "REQUIRES_ACTION", "PROCESSING"]);
const EXPIRY_TEXT = {
  window_elapsed: "The time to pay ran out, so the purchase was cancelled.",
  attempts_exhausted: "Too many attempts failed, so the purchase was cancelled.",
  declined: "You declined the offer. No strike was recorded.",
  released: "The auction house ended this payment. No strike was recorded.",
};

/** Whether a payment (one lot's, or an invoice's with lines) pays for lot `lotId`. */
export function paysFor(info, lotId) {
  return info.lot_id === lotId || (info.lines || []).some((line) => line.lot_id === lotId);
}

export class PaymentDesk {
  /** `board` names lots and follows them; `accepts(info)` picks the payments this page shows. */
  constructor({ section, list, board, stripeConfig, accepts = () => true }) {
    this.accepts = accepts;
    this.section = section;
    this.list = list;
    this.board = board;
    this.stripeConfig = stripeConfig;
    this.panels = new Map();
  }

  hasMyPayment(lotId) {
    for (const panel of this.panels.values()) {
      if (paysFor(panel.info, lotId) && panel.phase !== "ended") return true;
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
    if (!this.accepts(info)) return;
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
      announce(
        isSecondChance(info)
          ? `The winning bidder did not pay: the lot is offered to you for ${total}. You may pay or decline.`
          : `You won a lot. Pay ${total} before the time runs out.`,
        { urgent: true },
      );
      const focus = document.activeElement;
      if (!focus || focus === document.body || focus.closest(`[data-lot-id="${info.lot_id}"]`)) {
        panel.heading.focus();
      }
    }
  }

  titleFor(panel) {
    if (panel.info.invoice_id) return this.render(panel);
    const lot = this.board.get(panel.info.lot_id);
    if (lot) panel.title = `“${lot.title}”`;
    this.render(panel);
  }

  /** The board learned about a lot (a snapshot): panels for it can name it now. */
  lotShown(lotId) {
    for (const panel of this.panels.values()) {
      if (paysFor(panel.info, lotId)) this.titleFor(panel);
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
    const failure = paymentFailureText({ code: data.failure_code, message: data.failure_message });
    const message = `${failure} ${attemptsText(data.attempts_left)}.`;
    say(panel, message, "error");
    if (panel.phase !== "confirming") panel.phase = "form";
    this.render(panel);
    announce(message, { urgent: true });
  }

  async succeeded(data) {
    const panel = this.panels.get(data.payment_id);
    if (!panel) return;
    panel.phase = "ended";
    panel.info.status = "SUCCEEDED";
    const yours = panel.info.invoice_id ? "The lots on this invoice are yours." : "The lot is yours.";
    const paid = `Paid ${formatMoney(data.amount, data.currency)}. ${yours}`;
    say(panel, paid, "done");
    panel.receipt.replaceChildren(
      panel.info.invoice_id
        ? invoiceLink(panel.info.invoice_id, "Open the paid invoice")
        : receiptLink(data.payment_id, "Open the receipt"),
    );
    this.render(panel);
    this.board.rerender(data.lot_id);
    announce(`Payment received. You bought ${panel.title}.`, { urgent: true });
    if (panel.info.invoice_id) return;
    try {
      const receipt = await api("GET", `/api/payments/${data.payment_id}/receipt`);
      const method = receipt.payment_method;
      const brand = method && method.brand ? method.brand[0].toUpperCase() + method.brand.slice(1) : "Card";
      const card = method && method.last4 ? `, ${brand} ending ${method.last4}` : "";
      say(panel, `${paid} Receipt ${receipt.receipt_number}${card}.`, "done");
    } catch {
      // The receipt stays available from the link; the sale itself is done.
    }
    this.board.refresh(data.lot_id);
  }

  expired(data) {
    const panel = this.panels.get(data.payment_id);
    if (!panel) return;
    panel.phase = "ended";
    panel.info.status = "EXPIRED";
    say(panel, EXPIRY_TEXT[data.reason] || "This payment is no longer due.", "ended");
    this.render(panel);
    this.board.rerender(data.lot_id);
    announce(panel.message.textContent, { urgent: true });
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
    panel.phase = "confirming";
    this.render(panel);
    say(panel, "Confirming your card…");
    let outcome = await panel.entry.confirm(panel.info);
    if (outcome.status === "requires_action") {
      say(panel, "Your bank asks you to confirm this payment.");
      outcome = { ...(await panel.entry.authenticate(panel.info)), kind: "authentication" };
    }
    this.settle(panel, serial, outcome);
  }

  async authenticate(panel) {
    panel.serial += 1;
    const serial = panel.serial;
    panel.phase = "confirming";
    this.render(panel);
    say(panel, "Your bank asks you to confirm this payment.");
    const outcome = await panel.entry.authenticate(panel.info);
    this.settle(panel, serial, { ...outcome, kind: "authentication" });
  }

  settle(panel, serial, outcome) {
    if (panel.phase === "ended") return;
    if (outcome.status === "succeeded" || outcome.status === "processing") {
      say(
        panel,
        outcome.status === "succeeded"
          ? "Card accepted. Finishing your purchase…"
          : "Your payment is processing…",
      );
      panel.entry.clear();
      panel.phase = "waiting";
      this.render(panel);
      return;
    }
    panel.phase = "form";
    this.render(panel);
    // The server's payment_failed (with the attempts left) wins over our own first word.
    if (panel.serverFailureFor !== serial) {
      const text = outcome.status === "invalid" ? outcome.message : paymentFailureText(outcome);
      say(panel, text, "error");
    }
    if (outcome.status !== "invalid") panel.entry.focus();
  }

  build(info) {
    return buildPaymentPanel(info, {
      stripeConfig: this.stripeConfig,
      onPay: (panel) => this.pay(panel),
      onAuthenticate: (panel) => this.authenticate(panel),
      onDecline: (panel) => this.decline(panel),
    });
  }

  /** A second-chance offer turned down: no strike, and the lot moves on. */
  async decline(panel) {
    panel.declineButton.disabled = true;
    try {
      await api("POST", `/api/payments/${panel.info.payment_id}/decline`);
    } catch (error) {
      panel.declineButton.disabled = false;
      say(panel, `The offer could not be declined: ${error.message}`, "error");
      return;
    }
    panel.phase = "ended";
    panel.info.status = "CANCELED";
    say(panel, "You declined the offer. No strike was recorded.", "ended");
    this.render(panel);
    this.board.rerender(panel.info.lot_id);
    announce("You declined the offer. No strike was recorded.");
  }

  render(panel) {
    renderPaymentPanel(panel);
  }
}
