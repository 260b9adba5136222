// One payment panel: breakdown, countdown, attempts, card entry. No state of its own.
// Every message of a panel goes to one place (`say`): a new one replaces the one before.
import { createCardEntry } from "./card.js";
import { countdown, h, uniqueId } from "./dom.js";
import { formatMoney } from "./money.js";

export function attemptsText(left) {
  return left === 1 ? "1 attempt left" : `${left} attempts left`;
}

/** Show `text` in the panel's one message line; kind: progress, error or done. */
export function say(panel, text, kind = "progress") {
  panel.message.textContent = text;
  panel.message.dataset.kind = kind;
  panel.message.setAttribute("role", kind === "error" ? "alert" : "status");
}

/** The panel's DOM; `onPay`, `onAuthenticate` and `onDecline` get the panel. */
export function buildPaymentPanel(info, { stripeConfig, onPay, onAuthenticate, onDecline }) {
  const headingId = uniqueId("pay-heading");
  const panel = { info: { ...info }, phase: "form", serial: 0, serverFailureFor: -1 };
  panel.maxAttempts = info.attempt + info.attempts_left - 1;
  panel.title = info.invoice_id ? `your invoice ${info.invoice_id}` : `lot ${info.lot_id}`;
  panel.heading = h("h3", { id: headingId, tabindex: "-1" });
  panel.lede = h("p", { class: "lede" });
  panel.lines = h("ul", { class: "invoice-lines", "aria-label": "Lots on this invoice" });
  panel.hammer = h("dd");
  panel.premium = h("dd");
  panel.tax = h("dd");
  panel.total = h("dd", { class: "total" });
  panel.timer = h("time", { role: "timer" });
  panel.deadline = h("p", { class: "deadline" }, "Time left to pay: ", panel.timer);
  panel.attempts = h("p", { class: "attempts" });
  panel.entry = createCardEntry(stripeConfig);
  panel.payButton = h("button", { type: "submit" });
  panel.form = h("form", {
    class: "card-form",
    novalidate: true,
    "aria-label": "Card details",
    onsubmit: (event) => {
      event.preventDefault();
      onPay(panel);
    },
  });
  panel.entry.mount(panel.form);
  panel.form.append(panel.payButton);
  panel.authButton = h("button", {
    type: "button",
    text: "Confirm with your bank",
    onclick: () => onAuthenticate(panel),
  });
  panel.action = h(
    "div",
    { class: "action" },
    h("p", { text: "Your bank asks you to confirm this payment (3-D Secure)." }),
    panel.authButton,
  );
  panel.declineButton = h("button", {
    type: "button",
    class: "secondary",
    text: "Decline this offer",
    onclick: () => onDecline(panel),
  });
  panel.decline = h(
    "div",
    { class: "decline" },
    h("p", { class: "hint", text: "Declining costs you nothing: no strike is recorded." }),
    panel.declineButton,
  );
  panel.message = h("p", { class: "message", role: "status" });
  panel.receipt = h("p", { class: "receipt-line" });
  panel.root = h(
    "article",
    { class: "payment", "aria-labelledby": headingId, "data-payment-id": info.payment_id },
    panel.heading,
    panel.lede,
    panel.lines,
    h(
      "dl",
      { class: "breakdown" },
      h("div", {}, h("dt", { text: "Hammer price" }), panel.hammer),
      h("div", {}, h("dt", { text: "Buyer's premium" }), panel.premium),
      (panel.taxRow = h("div", {}, h("dt", { text: "Tax" }), panel.tax)),
      h("div", {}, (panel.totalLabel = h("dt")), panel.total),
    ),
    panel.deadline,
    panel.attempts,
    panel.form,
    panel.action,
    panel.message,
    panel.receipt,
    panel.decline,
  );
  return panel;
}

/** A second-chance offer: the first winner did not pay, and the lot is offered to this bidder. */
export function isSecondChance(info) {
  return (info.offer_number || 1) > 1;
}

/** Why the saved card charged at the hammer handed over to the buyer (AUTO_CHARGE). */
const CARD_ON_FILE_TEXT = {
  authentication_required: "Your bank wants you to confirm this payment, so your saved card was not charged.",
  card_declined: "Your saved card was declined, so nothing was charged: pay with a card below.",
};

function ledeText(info) {
  const hammer = formatMoney(info.breakdown.hammer, info.currency);
  if (info.invoice_id) {
    const count = (info.lines || []).length;
    return (
      `Your invoice for the sale covers ${count} ${count === 1 ? "lot" : "lots"}, paid at once. ` +
      "Pay before the time runs out; an invoice left unpaid counts as a strike."
    );
  }
  if (isSecondChance(info)) {
    return (
      `The winning bidder did not pay, so this lot is offered to you at your own highest bid of ` +
      `${hammer}. You may buy it, or decline the offer at no cost.`
    );
  }
  return (
    "You won this lot. Pay before the time runs out to complete the purchase; " +
    "a win left unpaid counts as a strike."
  );
}

/** Show `panel.info` and `panel.phase`: form, confirming, action, waiting or ended. */
export function renderPaymentPanel(panel) {
  const { info, phase } = panel;
  const money = (amount) => formatMoney(amount, info.currency);
  panel.root.dataset.phase = phase;
  const offer = isSecondChance(info) ? "Second-chance offer: " : "";
  if (info.status === "SUCCEEDED") panel.heading.textContent = `You bought ${panel.title}`;
  else if (phase === "ended") panel.heading.textContent = `No longer due: ${panel.title}`;
  else panel.heading.textContent = `${offer}Pay for ${panel.title}`;
  panel.root.dataset.status = info.status;
  panel.root.dataset.offer = isSecondChance(info) ? "second-chance" : "first";
  panel.lede.textContent = [CARD_ON_FILE_TEXT[info.reason], ledeText(info)].filter(Boolean).join(" ");
  panel.lines.hidden = !(info.lines && info.lines.length);
  panel.lines.replaceChildren(
    ...(info.lines || []).map((line) =>
      h(
        "li",
        {},
        h("a", { href: `/lots/${line.lot_id}`, text: `${line.lot_number ? `Lot ${line.lot_number}: ` : ""}${line.title || `Lot #${line.lot_id}`}` }),
        h("span", { class: "amount", text: ` ${money(line.hammer)}` }),
      ),
    ),
  );
  panel.hammer.textContent = money(info.breakdown.hammer);
  panel.premium.textContent = money(info.breakdown.premium);
  panel.total.textContent = money(info.breakdown.total);
  panel.taxRow.hidden = typeof info.breakdown.tax !== "number";
  if (!panel.taxRow.hidden) panel.tax.textContent = money(info.breakdown.tax);
  panel.payButton.textContent = `Pay ${money(info.amount)}`;
  if (info.expires_at) countdown(panel.timer, info.expires_at, { done: "Time is up" });
  const ended = phase === "ended";
  panel.lede.hidden = ended;
  panel.totalLabel.textContent = ended ? "Total" : "Total to pay";
  panel.deadline.hidden = ended || !info.expires_at;
  panel.attempts.hidden = ended;
  panel.attempts.textContent = `${attemptsText(info.attempts_left)} of ${panel.maxAttempts}.`;
  panel.form.hidden = !(phase === "form" || phase === "confirming");
  panel.payButton.disabled = phase !== "form";
  panel.entry.setDisabled(phase !== "form");
  panel.action.hidden = phase !== "action";
  panel.decline.hidden = ended || !isSecondChance(info);
  panel.declineButton.disabled = phase === "confirming" || phase === "waiting";
  panel.receipt.hidden = !panel.receipt.firstChild;
}
