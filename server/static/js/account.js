// My account (/account): payments due, bids and maxima, purchases with receipts, invoices,
// watchlist, saved cards, strikes, and the bid-confirmation setting.
import { api } from "./api.js";
import { confirmAbove, setConfirmAbove } from "./bid_box.js";
import { h } from "./dom.js";
import { STATUS_TEXT } from "./lot_view.js";
import { formatMoney } from "./money.js";
import { $, startPage } from "./page.js";
import { PaymentDesk } from "./payments.js";
import { invoiceLink, receiptLink } from "./receipts.js";

const PAID = new Set(["SUCCEEDED", "PARTIALLY_REFUNDED", "REFUNDED"]);

/** A payment's status in words, and a tone for its colour. */
export function paymentState(payment) {
  const money = (amount) => formatMoney(amount, payment.currency);
  switch (payment.status) {
    case "SUCCEEDED":
      return ["Paid", "good"];
    case "PARTIALLY_REFUNDED":
      return [`Paid; ${money(payment.refunded_amount)} refunded`, "good"];
    case "REFUNDED":
      return ["Refunded in full", "warn"];
    case "PROCESSING":
      return ["Payment processing", "warn"];
    case "CREATING":
    case "REQUIRES_PAYMENT":
    case "REQUIRES_ACTION":
      return ["Awaiting your payment", "warn"];
    case "EXPIRED":
      return (
        {
          window_elapsed: ["Not paid in time (a strike)", "bad"],
          attempts_exhausted: ["Every payment attempt failed (a strike)", "bad"],
          declined: ["You declined the offer (no strike)", "warn"],
          released: ["Ended by the auction house (no strike)", "warn"],
        }[payment.end_reason] || ["No longer due", "warn"]
      );
    case "FAILED":
      return ["Payment failed", "bad"];
    default:
      return ["Cancelled", "warn"];
  }
}

/** Where the caller stands on a lot they bid on. */
export function bidStanding(lot, leading, myAlias = null) {
  // After a default the sale in force (`winner`) may be another bidder's, not the top bid's.
  const won = myAlias
    ? lot.winner === myAlias
    : leading && (lot.winner == null || lot.winner === lot.high_bidder);
  switch (lot.status) {
    case "OPEN":
      return leading ? ["You lead", "good"] : ["Outbid", "bad"];
    case "PENDING_PAYMENT":
      return won ? ["Won: awaiting payment", "warn"] : ["Closed: another bidder won", "warn"];
    case "SOLD":
      return won ? ["Won and paid", "good"] : ["Sold to another bidder", "warn"];
    default:
      return [STATUS_TEXT[lot.status] || lot.status, "warn"];
  }
}

/** An invoice's status in words. */
export function invoiceState(invoice) {
  const money = (amount) => formatMoney(amount, invoice.currency);
  if (invoice.status === "ISSUED" && invoice.payment && invoice.payment.payable_by_card === false) {
    return [
      "Too large to pay by card in one payment: please pay by bank transfer (the auction house will send its bank details)",
      "warn",
    ];
  }
  return (
    {
      OPEN: ["Collecting your lots while the sale runs", "warn"],
      ISSUED: ["Awaiting your payment", "warn"],
      PAID: ["Paid", "good"],
      PARTIALLY_REFUNDED: [`Paid; ${money(invoice.totals.refunded || 0)} refunded`, "good"],
      REFUNDED: ["Refunded in full", "warn"],
      EXPIRED: ["Not paid in time", "bad"],
      VOID: ["Cancelled", "warn"],
    }[invoice.status] || [String(invoice.status).toLowerCase(), "warn"]
  );
}

/** A paid purchase's printable proof: the receipt, or for an invoice's payment the invoice. */
function purchaseReceipt(payment) {
  if (payment.invoice_id) return invoiceLink(payment.invoice_id, `Invoice ${payment.invoice_id} (receipt)`);
  return receiptLink(payment.id, `Receipt for ${payment.lot_title || `payment ${payment.id}`}`);
}

function lotLink(lotId, title) {
  return h("a", { href: `/lots/${lotId}`, text: title || `Lot #${lotId}` });
}

function row(what, ...figures) {
  return h("li", {}, h("div", { class: "what" }, what), h("div", { class: "figures" }, figures));
}

function state([text, tone]) {
  return h("span", { class: "state", "data-tone": tone, text });
}

function fill(listId, emptyId, items) {
  $(listId).replaceChildren(...items);
  $(emptyId).hidden = items.length > 0;
}

class Account {
  constructor({ config, live }) {
    this.live = live;
    this.user = null;
    this.lotTitles = new Map();
    this.desk = new PaymentDesk({
      section: $("payments"),
      list: $("payment-list"),
      stripeConfig: config.stripe,
      board: {
        get: (lotId) => (this.lotTitles.has(lotId) ? { title: this.lotTitles.get(lotId) } : null),
        rerender: () => {},
        ensureJoined: () => {},
        refresh: () => this.load(),
      },
    });
    $("confirm-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.saveConfirmAbove();
    });
  }

  async setUser(user) {
    this.user = user;
    this.desk.clear();
    $("account").hidden = !user;
    $("signed-out").hidden = Boolean(user);
    if (user) await this.load();
  }

  async load() {
    const current = this.user;
    await Promise.all([
      this.loadPurchases(),
      this.loadBids(),
      this.loadWatchlist(),
      this.loadInvoices(),
      this.loadStrikes(),
      this.loadCards(),
    ]);
    if (current !== this.user) return;
    const above = confirmAbove();
    $("confirm-above").value = above === null ? "" : String(above);
  }

  async loadPurchases() {
    const page = await api("GET", "/api/payments/my-payments?limit=200").catch(() => null);
    if (!page) return;
    for (const payment of page.items) {
      if (payment.lot_id != null) this.lotTitles.set(payment.lot_id, payment.lot_title);
    }
    const items = page.items.map((payment) =>
      row(
        [
          payment.invoice_id
            ? h("span", { text: `Invoice ${payment.invoice_id}${payment.lot_title ? ` for ${payment.lot_title}` : ""}` })
            : lotLink(payment.lot_id, payment.lot_title),
          payment.offer_number > 1 ? " (second-chance offer)" : "",
        ],
        h("span", { class: "amount", text: formatMoney(payment.amount, payment.currency) }),
        state(paymentState(payment)),
        payment.paid_at ? h("span", { text: `paid ${new Date(payment.paid_at).toLocaleString()}` }) : null,
        PAID.has(payment.status) ? purchaseReceipt(payment) : null,
      ),
    );
    fill("purchases", "purchases-empty", items);
    for (const panel of this.desk.panels.values()) this.desk.titleFor(panel);
  }

  async loadBids() {
    const mine = await api("GET", "/api/me/bids").catch(() => null);
    if (!mine) return;
    const items = mine.items.map(({ lot, max_amount, your_highest_bid, leading }) => {
      const money = (amount) => formatMoney(amount, lot.currency);
      const alias = this.user ? localStorage.getItem(`auction.alias.${this.user.sub}.${lot.id}`) : null;
      const standing = bidStanding(lot, leading, alias);
      return row(
        lotLink(lot.id, lot.title),
        your_highest_bid != null ? h("span", { text: `Your bid ${money(your_highest_bid)}` }) : null,
        max_amount != null ? h("span", { text: `Your maximum ${money(max_amount)} (only you see it)` }) : null,
        h("span", { text: `Now ${money(lot.hammer_price ?? lot.current_bid)}` }),
        state(standing),
      );
    });
    fill("bids", "bids-empty", items);
  }

  async loadWatchlist() {
    const list = await api("GET", "/api/me/watchlist").catch(() => null);
    $("watchlist-panel").hidden = !list;
    if (!list) return;
    const items = list.items.map((lot) =>
      row(
        lotLink(lot.id, lot.title),
        h("span", { text: STATUS_TEXT[lot.status] || lot.status }),
        h("span", {
          text: lot.current_bid == null ? "No bids" : formatMoney(lot.current_bid, lot.currency),
        }),
      ),
    );
    fill("watchlist", "watchlist-empty", items);
  }

  async loadInvoices() {
    const list = await api("GET", "/api/me/invoices").catch(() => null);
    $("invoices-panel").hidden = !list;
    if (!list) return;
    const items = (list.items || []).map((invoice) =>
      row(
        [
          h("span", { text: `Invoice ${invoice.id}${invoice.sale_title ? ` for ${invoice.sale_title}` : ""}` }),
          h("span", {
            class: "muted",
            text: ` (${invoice.lines.length} ${invoice.lines.length === 1 ? "lot" : "lots"})`,
          }),
        ],
        h("span", { class: "amount", text: formatMoney(invoice.totals.total, invoice.currency) }),
        state(invoiceState(invoice)),
        invoice.status === "OPEN" ? null : invoiceLink(invoice.id, `Invoice ${invoice.id} to print`),
      ),
    );
    fill("invoices", "invoices-empty", items);
  }

  async loadStrikes() {
    const me = await api("GET", "/api/me").catch(() => null);
    const text = $("strikes");
    if (!me) {
      text.textContent = "Your strikes cannot be shown right now.";
      return;
    }
    const limit = me.nonpayment_strikes;
    let summary;
    if (me.suspended) {
      summary = `You have ${me.strikes} strikes, so you cannot bid until the auction house lifts the suspension.`;
    } else if (me.strikes === 0) {
      summary = "You have no strikes.";
    } else {
      summary = `You have ${me.strikes} ${me.strikes === 1 ? "strike" : "strikes"} of ${limit}.`;
    }
    // The server's sentence says the count and the rule; ours is the fallback.
    text.textContent = me.strikes_explained || summary;
    text.dataset.strikes = String(me.strikes);
  }

  async loadCards() {
    let module;
    try {
      module = await import("./cards.js");
    } catch {
      return; // Saved cards are not offered by this server yet.
    }
    const mount = module.mountSavedCards || module.mountCards || module.default;
    if (typeof mount !== "function") return;
    $("cards-panel").hidden = false;
    await mount($("cards"), { api, stripeConfig: this.desk.stripeConfig });
  }

  saveConfirmAbove() {
    const text = $("confirm-above").value.trim().replace(",", ".");
    const message = $("confirm-above-message");
    if (text && !(Number(text) > 0)) {
      message.dataset.kind = "error";
      message.textContent = "Enter an amount above zero, or leave the box empty.";
      return;
    }
    setConfirmAbove(text ? Number(text) : null);
    message.dataset.kind = "done";
    message.textContent = text ? `Bids above ${text} will ask you to confirm first.` : "Only bids of three times the minimum or more ask you to confirm.";
  }
}

async function start() {
  let account = null;
  const started = await startPage({ onUser: (user) => account && account.setUser(user) });
  if (!started) return;
  const { session, live } = started;
  account = new Account(started);
  const desk = account.desk;
  live.on("payment_required", async (data) => {
    await desk.required(data);
    account.loadBids();
    if (data.invoice_id) account.loadInvoices();
  });
  live.on("payment_action_required", (data) => desk.actionRequired(data));
  live.on("payment_failed", (data) => desk.failed(data));
  live.on("payment_succeeded", async (data) => {
    await desk.succeeded(data);
    account.loadPurchases();
    account.loadInvoices();
    account.loadBids();
  });
  live.on("payment_expired", (data) => {
    desk.expired(data);
    account.loadPurchases();
    account.loadInvoices();
  });
  live.on("connected", async () => {
    if (!session.user) return;
    const ack = await live.myPayments();
    if (ack.ok) await desk.reconcile(ack.payments);
  });
  session.restore();
}

start();
