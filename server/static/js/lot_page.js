// The lot page (/lots/{id}): the lot live, its history, bidding, watching and paying.
import { api } from "./api.js";
import { BidBox } from "./bid_box.js";
import { announce } from "./dom.js";
import { BidHistory, renderFacts, renderGallery } from "./lot_view.js";
import { formatMoney } from "./money.js";
import { $, showFatal, startPage } from "./page.js";
import { isSecondChance } from "./payment_panel.js";
import { PaymentDesk, paysFor } from "./payments.js";
import { receiptLink } from "./receipts.js";

const LOT_ID = Number(location.pathname.split("/").filter(Boolean).pop());

class LotPage {
  constructor({ config, session, live }) {
    this.config = config;
    this.session = session;
    this.live = live;
    this.state = null;
    this.user = null;
    this.myAlias = null;
    this.leading = false;
    this.purchase = null;
    this.history = new BidHistory();
    this.box = new BidBox(this);
    this.desk = new PaymentDesk({
      section: $("payments"),
      list: $("payment-list"),
      stripeConfig: config.stripe,
      accepts: (info) => paysFor(info, LOT_ID),
      board: {
        get: () => this.state,
        rerender: () => this.render(),
        ensureJoined: () => {},
        refresh: () => this.reload(),
      },
    });
    $("watch").addEventListener("click", () => this.toggleWatch());
  }

  lot() {
    return this.state;
  }

  rerender() {
    this.render();
  }

  /** One message line for this lot: each new message replaces the one before. */
  say(text, kind = "progress") {
    const line = $("lot-message");
    line.textContent = text;
    line.dataset.kind = kind;
    if (kind === "error") announce(text, { urgent: true });
  }

  remember(alias) {
    if (!alias || !this.user) return;
    this.myAlias = alias;
    localStorage.setItem(`auction.alias.${this.user.sub}.${LOT_ID}`, alias);
  }

  /** An ack with a lot in it (bid, maximum, buy-now). */
  after(ack) {
    if (ack.lot) this.show(ack.lot);
    if (typeof ack.leading === "boolean") this.leading = ack.leading;
    if (ack.leading && ack.lot && ack.lot.high_bidder) this.remember(ack.lot.high_bidder);
    for (const input of ["bid-amount", "max-amount"]) $(input).removeAttribute("aria-invalid");
    this.render();
  }

  show(lot) {
    if (lot.id !== LOT_ID) return;
    const first = this.state === null;
    if (this.state && lot.seq < this.state.seq) return;
    this.state = { ...(this.state || {}), ...lot };
    if (first) renderGallery($("gallery"), this.state);
    this.render();
  }

  render() {
    if (!this.state) return;
    const lot = this.state;
    const mine = this.desk.hasMyPayment(LOT_ID) || Boolean(this.purchase);
    if (lot.status !== "OPEN") this.leading = false;
    else if (this.myAlias) this.leading = lot.high_bidder === this.myAlias;
    const offered = [...this.desk.panels.values()].some(
      (panel) => panel.phase !== "ended" && isSecondChance(panel.info),
    );
    const invoiced = Boolean(this.sale && this.sale.settlement === "per_sale");
    renderFacts(lot, { myAlias: this.myAlias, mine, leading: this.leading, offered, invoiced });
    this.box.render({ signedIn: Boolean(this.user), connected: this.live.connected });
    this.history.render(lot.currency, this.myAlias);
    $("watch").hidden = !this.user || !this.watchAvailable;
  }

  apply(name, data) {
    if (data.lot_id !== LOT_ID || !this.state) return;
    const lot = this.state;
    if (name === "bid_placed") {
      Object.assign(lot, {
        current_bid: data.amount,
        high_bidder: data.bidder,
        bid_count: data.bid_count,
        ends_at: data.ends_at,
        min_next_bid: data.min_next_bid,
      });
      if (typeof data.reserve_met === "boolean") lot.reserve_met = data.reserve_met;
      if ("buy_now_price" in data) lot.buy_now_price = data.buy_now_price;
      else if (lot.reserve_met || !lot.has_reserve) lot.buy_now_price = null;
      this.history.add({
        id: data.bid_id,
        amount: data.amount,
        bidder: data.bidder,
        auto: Boolean(data.auto),
        created_at: data.created_at || new Date().toISOString(),
      });
      const who = data.bidder === this.myAlias ? "you" : data.bidder;
      announce(`New bid ${formatMoney(data.amount, lot.currency)} by ${who}${data.auto ? " (automatic)" : ""}`);
    } else if (name === "lot_extended") {
      lot.ends_at = data.ends_at;
      this.say("A late bid extended the end of this lot.", "progress");
    } else if (name === "lot_status") {
      Object.assign(lot, {
        status: data.status,
        current_bid: data.current_bid ?? lot.current_bid,
        high_bidder: data.high_bidder ?? lot.high_bidder,
        hammer_price: data.hammer_price ?? null,
        winner: data.winner ?? null,
      });
      if (data.ends_at) lot.ends_at = data.ends_at;
      if (data.status !== "OPEN") {
        this.say("", "progress");
        this.reload();
        if (this.user) this.loadPurchase();
      }
      announce(`${lot.title}: ${$("lot-leader").textContent}`);
    }
    lot.seq = data.seq;
    this.render();
  }

  outbid(data) {
    if (data.lot_id !== LOT_ID || !this.state) return;
    const money = (amount) => formatMoney(amount, this.state.currency);
    this.leading = false;
    const text =
      `You were outbid: the bid is now ${money(data.amount)} (yours was ${money(data.your_amount)}). ` +
      `Bid at least ${money(data.min_next_bid)} to lead again.`;
    this.say(text, "error");
    this.render();
  }

  async reload() {
    try {
      const [lot, bids] = await Promise.all([
        api("GET", `/api/lots/${LOT_ID}`),
        api("GET", `/api/lots/${LOT_ID}/bids?limit=100`),
      ]);
      this.live.offerSnapshot(lot);
      if (lot.sale_id && !this.sale) await this.loadSale(lot.sale_id);
      this.show(lot);
      this.history.replace(bids.items);
      this.render();
    } catch (error) {
      if (error.status === 404) showFatal("There is no such lot. It may have been removed.");
      else if (!this.state) showFatal(`The lot cannot be shown: ${error.message}`);
    }
  }

  /** The sale a lot belongs to: its title, and whether its lots are paid by one invoice. */
  async loadSale(saleId) {
    try {
      this.sale = await api("GET", `/api/sales/${saleId}`);
      $("lot-sale").textContent = `· ${this.sale.title}`;
    } catch {
      this.sale = null;
    }
  }

  async setUser(user) {
    this.user = user;
    this.desk.clear();
    this.purchase = null;
    $("purchase").hidden = true;
    this.myAlias = user ? localStorage.getItem(`auction.alias.${user.sub}.${LOT_ID}`) : null;
    this.leading = false;
    this.render();
    if (!user) return;
    await Promise.all([this.loadMyBid(), this.loadWatch(), this.loadPurchase()]);
  }

  async loadMyBid() {
    try {
      const mine = (await api("GET", "/api/me/bids")).items.find((item) => item.lot.id === LOT_ID);
      if (!mine) return;
      if (mine.leading && mine.lot.high_bidder) this.remember(mine.lot.high_bidder);
      this.leading = mine.leading;
      if (mine.max_amount != null && this.state) {
        $("max-hint").textContent =
          `Your maximum: ${formatMoney(mine.max_amount, this.state.currency)} (only you see it). ` +
          "You can raise it.";
      }
      this.render();
    } catch {
      // Bids still work; the page just does not know the maximum.
    }
  }

  /** A paid purchase of this lot stays shown after a reload, with its receipt. */
  async loadPurchase() {
    try {
      const page = await api("GET", "/api/payments/my-payments?limit=200");
      const paid = page.items.find(
        (payment) => payment.lot_id === LOT_ID && ["SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDED"].includes(payment.status),
      );
      if (!paid) return;
      this.purchase = paid;
      const refunded = paid.refunded_amount
        ? ` ${formatMoney(paid.refunded_amount, paid.currency)} was refunded.`
        : "";
      $("purchase").replaceChildren(
        `You bought this lot for ${formatMoney(paid.amount, paid.currency)}.${refunded} `,
        receiptLink(paid.id, "Open the receipt"),
      );
      $("purchase").hidden = false;
      this.render();
    } catch {
      // Shown again on the next visit; the account page lists every purchase.
    }
  }

  async loadWatch() {
    try {
      const list = await api("GET", "/api/me/watchlist");
      this.watching = list.items.some((lot) => lot.id === LOT_ID);
      this.watchAvailable = true;
      this.renderWatch();
      this.render();
    } catch {
      this.watchAvailable = false;
      this.render();
    }
  }

  renderWatch() {
    const button = $("watch");
    button.setAttribute("aria-pressed", this.watching ? "true" : "false");
    button.textContent = this.watching ? "Watching (stop watching)" : "Watch this lot";
  }

  async toggleWatch() {
    const button = $("watch");
    button.disabled = true;
    try {
      await api(this.watching ? "DELETE" : "PUT", `/api/me/watchlist/${LOT_ID}`);
      this.watching = !this.watching;
      this.renderWatch();
      this.say(this.watching ? "Added to your watchlist." : "Removed from your watchlist.", "done");
    } catch (error) {
      this.say(`The watchlist could not be changed: ${error.message}`, "error");
    } finally {
      button.disabled = false;
    }
  }
}

async function start() {
  if (!Number.isInteger(LOT_ID) || LOT_ID <= 0) {
    showFatal("There is no such lot.");
    return;
  }
  let page = null;
  const started = await startPage({ onUser: (user) => page && page.setUser(user) });
  if (!started) return;
  const { session, live } = started;
  page = new LotPage(started);
  live.on("state", () => page.render());
  live.on("snapshot", (lot) => page.show(lot));
  live.on("lot_event", ({ name, data }) => page.apply(name, data));
  live.on("outbid", (data) => page.outbid(data));
  live.on("payment_required", (data) => page.desk.required(data));
  live.on("payment_action_required", (data) => page.desk.actionRequired(data));
  live.on("payment_failed", (data) => page.desk.failed(data));
  live.on("payment_succeeded", (data) => {
    page.desk.succeeded(data);
    if (data.lot_id === LOT_ID) page.loadPurchase();
  });
  live.on("payment_expired", (data) => page.desk.expired(data));
  live.on("connected", async () => {
    if (!session.user) return;
    const ack = await live.myPayments();
    if (ack.ok) await page.desk.reconcile(ack.payments.filter((info) => paysFor(info, LOT_ID)));
  });
  await page.reload();
  live.join(LOT_ID);
  session.restore();
}

start();
