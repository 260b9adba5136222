// One lot's card: how it is built and how it shows the lot's state. No state of its own.
import { countdown, h, stopCountdown, uniqueId } from "./dom.js";
import { formatMoney, toMajorString } from "./money.js";

const STATUS_TEXT = {
  SCHEDULED: "Opens soon",
  OPEN: "Open",
  PENDING_PAYMENT: "Awaiting payment",
  SOLD: "Sold",
  UNSOLD: "Not sold",
  CANCELED: "Withdrawn",
};

export function buildLotCard(lot, { myAlias, onJoin, onBid }) {
  const titleId = uniqueId("lot-title");
  const inputId = uniqueId("bid");
  const hintId = uniqueId("bid-hint");
  const errorId = uniqueId("bid-error");
  const card = { lot: { ...lot }, dirty: false, pending: null, myAlias };
  card.badge = h("span", { class: "badge" });
  card.price = h("dd", { class: "price" });
  card.bids = h("dd");
  card.timer = h("time", { role: "timer" });
  card.ends = h("dd", {}, card.timer);
  card.leader = h("p", { class: "leader" });
  card.reserve = h("p", { class: "reserve" });
  card.note = h("p", { class: "note", role: "status" });
  card.join = h("button", { type: "button", class: "secondary join", onclick: () => onJoin(card) });
  card.label = h("label", { for: inputId });
  card.input = h("input", {
    id: inputId,
    type: "text",
    inputmode: "decimal",
    autocomplete: "off",
    "aria-describedby": `${hintId} ${errorId}`,
    oninput: () => {
      card.dirty = true;
    },
  });
  card.hint = h("p", { class: "hint", id: hintId });
  card.error = h("p", { class: "error", id: errorId, role: "alert" });
  card.status = h("p", { class: "bid-status", role: "status" });
  card.submit = h("button", { type: "submit", text: "Place bid" });
  card.form = h(
    "form",
    {
      class: "bid-form",
      novalidate: true,
      onsubmit: (event) => {
        event.preventDefault();
        onBid(card);
      },
    },
    card.label,
    h("div", { class: "bid-row" }, card.input, card.submit),
    card.hint,
  );
  card.signIn = h("p", { class: "muted", text: "Sign in (at the top) to bid on this lot." });
  card.root = h(
    "article",
    { class: "lot", "aria-labelledby": titleId, "data-lot-id": lot.id },
    h("div", { class: "lot-head" }, h("h3", { id: titleId, text: lot.title }), card.badge),
    lot.description ? h("p", { class: "description", text: lot.description }) : null,
    h(
      "dl",
      { class: "facts" },
      h("div", {}, h("dt", { text: "Current bid" }), card.price),
      h("div", {}, h("dt", { text: "Bids" }), card.bids),
      h("div", {}, (card.endsLabel = h("dt", { text: "Ends in" })), card.ends),
    ),
    card.leader,
    card.reserve,
    card.note,
    card.join,
    card.form,
    card.signIn,
    card.status,
    card.error,
  );
  return card;
}

/** One line on where the lot stands, from this user's point of view. */
export function leaderText(card, hasMyPayment) {
  const lot = card.lot;
  const mine = card.myAlias && lot.high_bidder === card.myAlias;
  const price = lot.current_bid === null ? null : formatMoney(lot.current_bid, lot.currency);
  // After the close: the sale in force (a next bidder's price after an expired window).
  const hammer = lot.hammer_price == null ? price : formatMoney(lot.hammer_price, lot.currency);
  const won = lot.winner == null ? mine : card.myAlias && lot.winner === card.myAlias;
  switch (lot.status) {
    case "OPEN":
      if (price === null) {
        return `No bids yet. Bidding starts at ${formatMoney(lot.starting_price, lot.currency)}.`;
      }
      return mine ? "You are the highest bidder." : `Highest bidder: ${lot.high_bidder}.`;
    case "PENDING_PAYMENT":
      return hasMyPayment
        ? `You won at ${hammer}. Complete your payment above.`
        : `The hammer fell at ${hammer}; waiting for the winner's payment.`;
    case "SOLD":
      return won || hasMyPayment ? `Sold to you for ${hammer}.` : `Sold for ${hammer}.`;
    case "UNSOLD":
      return "Bidding closed without a sale.";
    case "CANCELED":
      return "The seller withdrew this lot.";
    default:
      return "Bidding has not started yet.";
  }
}

/** Bring the card's DOM up to date with `card.lot` and the page's state. */
export function renderLotCard(card, { joined, signedIn, connected, hasMyPayment }) {
  const lot = card.lot;
  const open = lot.status === "OPEN";
  card.root.dataset.status = lot.status;
  card.badge.textContent = STATUS_TEXT[lot.status] || lot.status;
  card.price.textContent =
    lot.current_bid === null ? "No bids" : formatMoney(lot.current_bid, lot.currency);
  card.bids.textContent = String(lot.bid_count);
  card.endsLabel.textContent = open ? "Ends in" : "Bidding";
  if (open) countdown(card.timer, lot.ends_at, { done: "Closing…" });
  else stopCountdown(card.timer, lot.status === "SCHEDULED" ? "Not started" : "Closed");
  if (!open) delete card.root.dataset.outbid;
  card.leader.textContent = leaderText(card, hasMyPayment);
  card.reserve.textContent = lot.has_reserve && !lot.reserve_met && open ? "Reserve not met yet." : "";
  card.join.textContent = joined ? "Leave" : "Join";
  card.join.setAttribute("aria-pressed", joined ? "true" : "false");
  card.join.setAttribute("aria-label", `${joined ? "Leave" : "Join"} ${lot.title}`);
  card.join.hidden = !open && !joined;
  const canBid = open && joined && signedIn;
  card.form.hidden = !canBid;
  card.signIn.hidden = !(open && joined && !signedIn);
  card.label.textContent = `Your bid (${lot.currency.toUpperCase()})`;
  card.hint.textContent = `Minimum bid ${formatMoney(lot.min_next_bid, lot.currency)}`;
  card.submit.disabled = !connected;
  if (!card.dirty) {
    card.input.value = toMajorString(lot.min_next_bid, lot.currency);
  }
  if (!open) {
    card.error.textContent = "";
    card.status.textContent = "";
  }
}
