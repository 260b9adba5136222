// The lot page's read-only parts: gallery, facts, end time, bid history.
import { countdown, h, stopCountdown } from "./dom.js";
import { formatMoney } from "./money.js";

export const STATUS_TEXT = {
  SCHEDULED: "Opens soon",
  OPEN: "Open",
  PENDING_PAYMENT: "Awaiting payment",
  SOLD: "Sold",
  UNSOLD: "Not sold",
  CANCELED: "Withdrawn",
};

const $ = (id) => document.getElementById(id);

/** "Sunday, 6 December 2026 at 08:15:00 Coordinated Universal Time" in the viewer's zone. */
export function absoluteTime(iso) {
  const format = new Intl.DateTimeFormat(undefined, {
    dateStyle: "full",
    timeStyle: "long",
  });
  return format.format(new Date(iso));
}

export function renderGallery(root, lot) {
  const images = lot.images || [];
  root.replaceChildren();
  if (images.length === 0) {
    root.append(h("div", { class: "no-photo", text: "No photo of this lot yet" }));
    return;
  }
  const main = h("img", {
    class: "gallery-main",
    src: images[0].url,
    alt: `${lot.title}, photo 1 of ${images.length}`,
  });
  const thumbs = images.map((image, index) =>
    h(
      "button",
      {
        type: "button",
        class: "thumb",
        "aria-label": `Show photo ${index + 1} of ${images.length}`,
        "aria-pressed": index === 0 ? "true" : "false",
        onclick: (event) => {
          main.src = image.url;
          main.alt = `${lot.title}, photo ${index + 1} of ${images.length}`;
          for (const other of root.querySelectorAll(".thumb")) other.setAttribute("aria-pressed", "false");
          event.currentTarget.setAttribute("aria-pressed", "true");
        },
      },
      h("img", { src: image.thumb_url || image.url, alt: "" }),
    ),
  );
  root.append(main, images.length > 1 ? h("div", { class: "thumbs" }, thumbs) : null);
}

/** Where the lot stands, from this user's point of view. */
export function leaderText(lot, { myAlias, mine, leading, offered, invoiced }) {
  const money = (amount) => formatMoney(amount, lot.currency);
  const hammer = lot.hammer_price == null ? money(lot.current_bid) : money(lot.hammer_price);
  const iWon = (myAlias && lot.winner === myAlias) || mine;
  switch (lot.status) {
    case "OPEN":
      if (lot.current_bid === null) return `No bids yet. Bidding starts at ${money(lot.starting_price)}.`;
      return leading || (myAlias && lot.high_bidder === myAlias)
        ? "You are the highest bidder."
        : `Highest bidder: ${lot.high_bidder}.`;
    case "PENDING_PAYMENT":
      if (offered) return `The winning bidder did not pay: the lot is offered to you at ${hammer}. Pay or decline below.`;
      if (invoiced && (myAlias && lot.winner === myAlias) && !mine) {
        return `You won at ${hammer}. You pay for it with your invoice for the sale, once its last lot closes.`;
      }
      return iWon ? `You won at ${hammer}. Complete your payment below.` : `The hammer fell at ${hammer}; waiting for the winner's payment.`;
    case "SOLD":
      return iWon ? `Sold to you for ${hammer}.` : `Sold for ${hammer}.`;
    case "UNSOLD":
      return "Bidding closed without a sale.";
    case "CANCELED":
      return "The seller withdrew this lot.";
    default:
      return `Bidding opens ${absoluteTime(lot.starts_at)}.`;
  }
}

export function renderFacts(lot, who) {
  const open = lot.status === "OPEN";
  $("lot-page").dataset.status = lot.status;
  $("lot-title").textContent = lot.title;
  document.title = `${lot.title} · Live auction`;
  $("lot-number").textContent = lot.lot_number ? `Lot ${lot.lot_number}` : `Lot #${lot.id}`;
  $("lot-badge").textContent = STATUS_TEXT[lot.status] || lot.status;
  const sold = lot.status === "SOLD" || lot.status === "PENDING_PAYMENT";
  $("price-label").textContent = sold ? "Hammer price" : "Current bid";
  const shown = sold && lot.hammer_price != null ? lot.hammer_price : lot.current_bid;
  $("lot-price").textContent = shown === null ? "No bids" : formatMoney(shown, lot.currency);
  $("lot-bids").textContent = String(lot.bid_count);
  $("ends-label").textContent = open ? "Ends in" : lot.status === "SCHEDULED" ? "Opens in" : "Bidding";
  const timer = $("lot-timer");
  if (open) countdown(timer, lot.ends_at, { done: "Closing…" });
  else if (lot.status === "SCHEDULED") countdown(timer, lot.starts_at, { done: "Opening…" });
  else stopCountdown(timer, "Closed");
  $("lot-ends-at").textContent = open
    ? `Ends ${absoluteTime(lot.ends_at)}`
    : lot.status === "SCHEDULED"
      ? `Opens ${absoluteTime(lot.starts_at)}, ends ${absoluteTime(lot.ends_at)}`
      : lot.closed_at
        ? `Closed ${absoluteTime(lot.closed_at)}`
        : "";
  $("lot-leader").textContent = leaderText(lot, who);
  $("lot-reserve").textContent =
    lot.has_reserve && !lot.reserve_met && open ? "Reserve not met yet." : lot.has_reserve && lot.reserve_met && open ? "Reserve met." : "";
  $("lot-description").textContent = lot.description || "No description.";
}

function historyRow(bid, currency, myAlias) {
  const who = bid.bidder === myAlias ? `${bid.bidder} (you)` : bid.bidder || "A bidder";
  return h(
    "tr",
    { "data-bid-id": bid.id },
    h("td", {}, who, bid.auto ? h("span", { class: "auto", title: "Placed automatically for a maximum bid", text: "auto" }) : null),
    h("td", { class: "amount", text: formatMoney(bid.amount, currency) }),
    h("td", {}, h("time", { datetime: bid.created_at, text: new Date(bid.created_at).toLocaleTimeString() })),
  );
}

export class BidHistory {
  constructor() {
    this.bids = [];
  }

  replace(bids) {
    this.bids = [...bids];
  }

  add(bid) {
    if (this.bids.some((known) => known.id === bid.id)) return;
    this.bids.unshift(bid);
  }

  render(currency, myAlias) {
    $("history-rows").replaceChildren(...this.bids.map((bid) => historyRow(bid, currency, myAlias)));
    $("history").hidden = this.bids.length === 0;
    $("history-empty").hidden = this.bids.length > 0;
  }
}
