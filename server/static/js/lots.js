// The lots on the page: their state, joining and leaving, bidding, outbid notices.
import { newRequestId } from "../vendor/auction-client/auction-client.js";
import { api } from "./api.js";
import { announce } from "./dom.js";
import { buildLotCard, leaderText, renderLotCard } from "./lot_card.js";
import { formatMoney, parseMoney, toMajorString } from "./money.js";
const JOINED_KEY = "auction.joined";

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
    sessionStorage.setItem(JOINED_KEY, JSON.stringify(this.live.joinedLots()));
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
      if (typeof data.reserve_met === "boolean") lot.reserve_met = data.reserve_met;
      const who = data.bidder === card.myAlias ? "you" : data.bidder;
      if (who !== "you") card.status.textContent = "";
      announce(`${lot.title}: new bid ${formatMoney(data.amount, lot.currency)} by ${who}`);
    } else if (name === "lot_extended") {
      lot.ends_at = data.ends_at;
      card.note.textContent = "A late bid extended the end of this lot.";
      announce(`${lot.title}: bidding extended`);
    } else if (name === "lot_status") {
      Object.assign(lot, {
        status: data.status,
        current_bid: data.current_bid,
        high_bidder: data.high_bidder,
        hammer_price: data.hammer_price ?? null,
        winner: data.winner ?? null,
      });
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
      card.note.textContent = `You were outbid. Bid at least ${money(data.min_next_bid)} to lead again.`;
      card.status.textContent = "";
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
    // The client offers the ack's lot as a snapshot, and retries a lost answer with the same id.
    const ack = await this.live.placeBid({
      lotId: lot.id,
      amount: card.pending.amount,
      requestId: card.pending.request_id,
    });
    card.submit.disabled = false;
    card.status.textContent = "";
    if (ack.ok) {
      card.pending = null;
      card.dirty = false;
      delete card.root.dataset.outbid;
      card.note.textContent = "";
      this.clearNotice(lot.id);
      this.rememberAlias(card, ack.bid.bidder);
      card.status.textContent = `Your bid of ${formatMoney(ack.bid.amount, lot.currency)} is the highest.`;
      this.render(card);
      return;
    }
    if (ack.error.code !== "unavailable") card.pending = null;
    let message = ack.error.message;
    if (typeof ack.error.min_next_bid === "number") {
      const minimum = formatMoney(ack.error.min_next_bid, lot.currency);
      message = `Your bid is too low: the minimum is now ${minimum}.`;
      lot.min_next_bid = ack.error.min_next_bid;
      card.dirty = false;
      this.render(card);
    }
    card.error.textContent = message;
    card.input.setAttribute("aria-invalid", "true");
  }

  build(lot) {
    return buildLotCard(lot, {
      myAlias: this.aliasFor(lot.id),
      onJoin: (card) => this.toggleJoin(card),
      onBid: (card) => this.bid(card),
    });
  }

  leaderText(card) {
    return leaderText(card, this.hasMyPayment(card.lot.id));
  }

  render(card) {
    renderLotCard(card, {
      joined: this.live.isJoined(card.lot.id),
      signedIn: Boolean(this.user),
      connected: this.live.connected,
      hasMyPayment: this.hasMyPayment(card.lot.id),
    });
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
