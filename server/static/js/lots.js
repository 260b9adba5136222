// The lot cards: live price, countdown, join/leave, and the bid form.
import { api } from "./api.js";
import { announce, countdown, h, stopCountdown, uniqueId } from "./dom.js";
import { formatMoney, parseMoney, toMajorString } from "./money.js";

const STATUS_TEXT = {
  SCHEDULED: "Opens soon",
  OPEN: "Open",
  PENDING_PAYMENT: "Awaiting payment",
  SOLD: "Sold",
  UNSOLD: "Not sold",
  CANCELED: "Withdrawn",
};
const JOINED_KEY = "auction.joined";

function newRequestId() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export class LotBoard {
  constructor({ list, empty, live, hasMyPayment, clearNotice }) {
    this.list = list;
    this.clearNotice = clearNotice;
    this.empty = empty;
    this.live = live;
    this.hasMyPayment = hasMyPayment;
    this.cards = new Map();
    this.user = null;
  }

  get(lotId) {
    const card = this.cards.get(lotId);
    return card ? card.lot : null;
  }

  /** Lots this tab had joined, so a reload (or a reconnect) joins them again. */
  savedJoins() {
    try {
      return JSON.parse(sessionStorage.getItem(JOINED_KEY) || "[]").filter(Number.isInteger);
    } catch {
      return [];
    }
  }

  saveJoins() {
    sessionStorage.setItem(JOINED_KEY, JSON.stringify([...this.live.lots.keys()]));
  }

  setUser(user) {
    this.user = user;
    for (const card of this.cards.values()) {
      card.myAlias = this.aliasFor(card.lot.id);
      this.render(card);
    }
  }

  aliasFor(lotId) {
    return this.user ? sessionStorage.getItem(`auction.alias.${this.user.sub}.${lotId}`) : null;
  }

  rememberAlias(card, alias) {
    card.myAlias = alias;
    if (this.user && alias) sessionStorage.setItem(`auction.alias.${this.user.sub}.${card.lot.id}`, alias);
  }

  /** A full lot (snapshot): create its card or bring it up to date. */
  show(lot) {
    let card = this.cards.get(lot.id);
    if (!card) {
      card = this.build(lot);
      this.cards.set(lot.id, card);
      // Soonest end first; a card never moves once placed, so focus inside it is safe.
      const endsAt = Date.parse(lot.ends_at);
      const later = [...this.list.children].find(
        (other) => Date.parse(this.cards.get(Number(other.dataset.lotId)).lot.ends_at) > endsAt,
      );
      this.list.insertBefore(card.root, later || null);
    } else {
      card.lot = { ...card.lot, ...lot };
    }
    this.render(card);
    this.empty.hidden = this.cards.size > 0;
  }

  /** Lots that closed while nobody here watched them leave the list. */
  prune(openIds) {
    for (const [lotId, card] of this.cards) {
      if (!openIds.has(lotId) && !this.live.isJoined(lotId) && !this.hasMyPayment(lotId)) {
        card.root.remove();
        this.cards.delete(lotId);
      }
    }
    this.empty.hidden = this.cards.size > 0;
  }

  /** An in-order event of a joined lot. */
  apply(name, data) {
    const card = this.cards.get(data.lot_id);
    if (!card) return;
    const lot = card.lot;
    if (name === "bid_placed") {
      Object.assign(lot, {
        current_bid: data.amount,
        high_bidder: data.bidder,
        bid_count: data.bid_count,
        ends_at: data.ends_at,
        min_next_bid: data.min_next_bid,
      });
      const who = data.bidder === card.myAlias ? "you" : data.bidder;
      announce(`${lot.title}: new bid ${formatMoney(data.amount, lot.currency)} by ${who}`);
      if (lot.has_reserve && !lot.reserve_met) this.refresh(lot.id);
    } else if (name === "lot_extended") {
      lot.ends_at = data.ends_at;
      card.note.textContent = "A late bid extended the end of this lot.";
      announce(`${lot.title}: bidding extended`);
    } else if (name === "lot_status") {
      Object.assign(lot, { status: data.status, current_bid: data.current_bid, high_bidder: data.high_bidder });
      if (data.ends_at) lot.ends_at = data.ends_at;
      card.note.textContent = "";
      if (data.status !== "OPEN") this.clearNotice(lot.id);
      announce(`${lot.title}: ${this.leaderText(card)}`);
    }
    lot.seq = data.seq;
    this.render(card);
  }

  async refresh(lotId) {
    try {
      this.live.offerSnapshot(await api("GET", `/api/lots/${lotId}`));
    } catch {
      // The next event or poll brings it up to date.
    }
  }

  outbid(data) {
    const card = this.cards.get(data.lot_id);
    const title = card ? card.lot.title : `Lot ${data.lot_id}`;
    const currency = card ? card.lot.currency : null;
    const money = (amount) => (currency ? formatMoney(amount, currency) : String(amount));
    const text =
      `You were outbid on ${title}: the bid is now ${money(data.amount)} ` +
      `(yours was ${money(data.your_amount)}). Bid at least ${money(data.min_next_bid)} to lead again.`;
    if (card) {
      card.note.textContent = text;
      card.root.dataset.outbid = "true";
      if (!card.dirty) card.input.value = toMajorString(data.min_next_bid, card.lot.currency);
    }
    return text;
  }

  async toggleJoin(card) {
    const lotId = card.lot.id;
    card.join.disabled = true;
    if (this.live.isJoined(lotId)) {
      await this.live.leave(lotId);
    } else {
      const ack = await this.live.join(lotId);
      if (!ack.ok) card.error.textContent = ack.error.message;
    }
    card.join.disabled = false;
    this.saveJoins();
    this.render(card);
    if (this.live.isJoined(lotId) && this.user) card.input.focus();
  }

  async ensureJoined(lotId) {
    if (!this.live.isJoined(lotId)) {
      await this.live.join(lotId);
      this.saveJoins();
    }
  }

  async bid(card) {
    const lot = card.lot;
    card.error.textContent = "";
    card.input.removeAttribute("aria-invalid");
    let amount;
    try {
      amount = parseMoney(card.input.value, lot.currency);
    } catch (error) {
      card.input.setAttribute("aria-invalid", "true");
      card.error.textContent = error.message;
      card.input.focus();
      return;
    }
    // A retry of a bid whose answer never came reuses its request_id, so it cannot count twice.
    if (!card.pending || card.pending.amount !== amount) {
      card.pending = { amount, request_id: newRequestId() };
    }
    card.submit.disabled = true;
    card.status.textContent = "Placing your bid…";
    const ack = await this.live.call("place_bid", { lot_id: lot.id, ...card.pending });
    card.submit.disabled = false;
    card.status.textContent = "";
    if (ack.ok) {
      card.pending = null;
      card.dirty = false;
      delete card.root.dataset.outbid;
      card.note.textContent = "";
      this.clearNotice(lot.id);
      this.rememberAlias(card, ack.bid.bidder);
      this.live.offerSnapshot(ack.lot);
      card.status.textContent = `Your bid of ${formatMoney(ack.bid.amount, lot.currency)} is the highest.`;
      this.render(card);
      return;
    }
    if (ack.error.code !== "unavailable") card.pending = null;
    let message = ack.error.message;
    if (typeof ack.error.min_next_bid === "number") {
      message = `Your bid is too low: the minimum is now ${formatMoney(ack.error.min_next_bid, lot.currency)}.`;
      lot.min_next_bid = ack.error.min_next_bid;
      card.dirty = false;
      this.render(card);
    }
    card.error.textContent = message;
    card.input.setAttribute("aria-invalid", "true");
  }

  build(lot) {
    const titleId = uniqueId("lot-title");
    const inputId = uniqueId("bid");
    const hintId = uniqueId("bid-hint");
    const errorId = uniqueId("bid-error");
    const card = { lot: { ...lot }, dirty: false, pending: null, myAlias: this.aliasFor(lot.id) };
    card.badge = h("span", { class: "badge" });
    card.price = h("dd", { class: "price" });
    card.bids = h("dd");
    card.timer = h("time", { role: "timer" });
    card.ends = h("dd", {}, card.timer);
    card.leader = h("p", { class: "leader" });
    card.reserve = h("p", { class: "reserve" });
    card.note = h("p", { class: "note", role: "status" });
    card.join = h("button", { type: "button", class: "secondary join", onclick: () => this.toggleJoin(card) });
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
          this.bid(card);
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

  leaderText(card) {
    const lot = card.lot;
    const mine = card.myAlias && lot.high_bidder === card.myAlias;
    const price = lot.current_bid === null ? null : formatMoney(lot.current_bid, lot.currency);
    switch (lot.status) {
      case "OPEN":
        if (price === null) return `No bids yet. Bidding starts at ${formatMoney(lot.starting_price, lot.currency)}.`;
        return mine ? "You are the highest bidder." : `Highest bidder: ${lot.high_bidder}.`;
      case "PENDING_PAYMENT":
        return this.hasMyPayment(lot.id)
          ? `You won at ${price}. Complete your payment above.`
          : `The hammer fell at ${price}; waiting for the winner's payment.`;
      case "SOLD":
        return mine || this.hasMyPayment(lot.id) ? `Sold to you for ${price}.` : `Sold for ${price}.`;
      case "UNSOLD":
        return "Bidding closed without a sale.";
      case "CANCELED":
        return "The seller withdrew this lot.";
      default:
        return "Bidding has not started yet.";
    }
  }

  render(card) {
    const lot = card.lot;
    const open = lot.status === "OPEN";
    const joined = this.live.isJoined(lot.id);
    card.root.dataset.status = lot.status;
    card.badge.textContent = STATUS_TEXT[lot.status] || lot.status;
    card.price.textContent =
      lot.current_bid === null ? "No bids" : formatMoney(lot.current_bid, lot.currency);
    card.bids.textContent = String(lot.bid_count);
    card.endsLabel.textContent = open ? "Ends in" : "Bidding";
    if (open) countdown(card.timer, lot.ends_at, { done: "Closing…" });
    else stopCountdown(card.timer, lot.status === "SCHEDULED" ? "Not started" : "Closed");
    if (!open) delete card.root.dataset.outbid;
    card.leader.textContent = this.leaderText(card);
    card.reserve.textContent = lot.has_reserve && !lot.reserve_met && open ? "Reserve not met yet." : "";
    card.join.textContent = joined ? "Leave" : "Join to bid";
    card.join.setAttribute("aria-pressed", joined ? "true" : "false");
    card.join.setAttribute("aria-label", `${joined ? "Leave" : "Join"} ${lot.title}`);
    card.join.hidden = !open && !joined;
    const canBid = open && joined && Boolean(this.user);
    card.form.hidden = !canBid;
    card.signIn.hidden = !(open && joined && !this.user);
    card.label.textContent = `Your bid (${lot.currency.toUpperCase()})`;
    card.hint.textContent = `Minimum bid ${formatMoney(lot.min_next_bid, lot.currency)}`;
    card.submit.disabled = !this.live.connected;
    if (!card.dirty) {
      card.input.value = toMajorString(lot.min_next_bid, lot.currency);
    }
    if (!open) {
      card.error.textContent = "";
      card.status.textContent = "";
    }
  }

  rerender(lotId) {
    const card = this.cards.get(lotId);
    if (card) this.render(card);
  }

  /** Bidding needs the connection: buttons follow it. */
  connectionChanged() {
    for (const card of this.cards.values()) this.render(card);
  }
}
