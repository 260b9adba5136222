// The seller desk (/seller): create and edit lots with images, follow them, see results and
// the payments for them. Bidders appear by their public alias only.
import { AuctionClient } from "../../vendor/auction-client/auction-client.js";
import { api, ApiError } from "../api.js";
import { h } from "../dom.js";
import {
  $,
  MessageLine,
  confirmButton,
  formatMoney,
  formatWhen,
  reportReload,
  startDesk,
  statusText,
  table,
} from "./common.js";
import { deskErrorText } from "./errors.js";
import { LotEditor } from "./lot_form.js";
import { resultText, salesSummaries } from "./seller_results.js";

const messages = new MessageLine($("messages"));
const EDITABLE = new Set(["SCHEDULED", "OPEN"]);
const CREATING_RECHECK_MS = 2_000;
const RUNNING_TEXT = { SCHEDULED: "Not open yet", OPEN: "Open" };
let state = null;

function cover(lot) {
  const image = (lot.images || [])[0];
  return image ? h("img", { src: image.thumb_url, alt: "", width: "96", height: "72" }) : null;
}

/** Where the focus was in a list about to be re-drawn: the lot and the control's name. */
function focusMark(root) {
  const focused = document.activeElement;
  if (!focused || !root.contains(focused)) return null;
  const item = focused.closest("[data-lot-id]");
  return item ? { lotId: item.dataset.lotId, text: focused.textContent } : null;
}

function refocus(root, mark) {
  if (!mark) return;
  const item = root.querySelector(`[data-lot-id="${mark.lotId}"]`);
  const target = item && [...item.querySelectorAll("a, button")].find((el) => el.textContent === mark.text);
  if (target) target.focus();
}

class SellerDesk {
  constructor(session, config, user) {
    Object.assign(this, { session, config, user });
    // Bids and closes on the seller's lots arrive live; the lists re-draw from the API.
    this.live = new AuctionClient();
    this.live.on("lot_event", () => this.soon());
    this.live.connect(session.token);
    this.timer = null;
    this.sales = new Map();
    this.editor = new LotEditor({
      root: $("editor"),
      heading: $("editor-heading"),
      messages,
      session,
      config,
      onSaved: (lot) => this.reload($("lots-heading"), lot),
    });
  }

  async reload(focusHeading = null) {
    const results = await Promise.allSettled([
      this.loadSales().then(() => this.loadLots()),
      this.loadPayments(),
    ]);
    if (state !== this) return; // signed out (or in as someone else) meanwhile
    reportReload(results, messages, deskErrorText);
    if (focusHeading && (!document.activeElement || document.activeElement === document.body)) focusHeading.focus();
  }

  stop() {
    clearTimeout(this.timer);
    clearTimeout(this.paymentsTimer);
    this.live.disconnect();
  }

  /** Re-draw the lists shortly (events come in bursts); not while a question is asked. */
  soon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      if ($("lots").querySelector(".desk-confirm-step")) {
        this.soon();
        return;
      }
      const marks = [focusMark($("lots")), focusMark($("results"))];
      try {
        await Promise.all([this.loadLots(), this.loadPayments()]);
      } catch {
        return; // the next event or a refresh tries again
      }
      refocus($("lots"), marks[0]);
      refocus($("results"), marks[1]);
    }, 300);
  }

  /** The seller's sales: their titles for the lists, the open ones for the form. */
  async loadSales() {
    this.sales = new Map();
    try {
      const page = await api("GET", "/api/sales?limit=200");
      for (const sale of page.items) if (sale.seller_id === this.user.sub) this.sales.set(sale.id, sale);
    } catch (error) {
      if (!(error instanceof ApiError) || ![404, 405].includes(error.status)) throw error;
    }
    this.editor.setSales([...this.sales.values()].filter((sale) => sale.status !== "CLOSED"));
  }

  saleLine(lot) {
    if (!lot.sale_id) return null;
    const sale = this.sales && this.sales.get(lot.sale_id);
    return `Lot ${lot.lot_number} of “${sale ? sale.title : `sale ${lot.sale_id}`}”.`;
  }

  async loadLots() {
    const lots = [];
    let cursor = null;
    do {
      const query = new URLSearchParams({ seller_id: this.user.sub, limit: "200" });
      if (cursor) query.set("cursor", cursor);
      const page = await api("GET", `/api/lots?${query}`);
      lots.push(...page.items.filter((lot) => lot.seller_id === this.user.sub));
      cursor = page.next_cursor;
    } while (cursor && lots.length < 1000);
    const running = lots.filter((lot) => EDITABLE.has(lot.status));
    const closed = lots.filter((lot) => !EDITABLE.has(lot.status));
    for (const lot of lots) {
      // Followed until the result is final: bids, extensions, the close, the payment.
      const follow = EDITABLE.has(lot.status) || lot.status === "PENDING_PAYMENT";
      if (follow && !this.live.isJoined(lot.id)) this.live.join(lot.id);
      else if (!follow && this.live.isJoined(lot.id)) this.live.leave(lot.id);
    }
    $("lots").replaceChildren(
      running.length
        ? h("ul", { class: "cards" }, running.map((lot) => this.runningItem(lot)))
        : h("p", { class: "muted", text: "You have no open or upcoming lots." }),
    );
    $("results").replaceChildren(
      ...[
        salesSummaries([...this.sales.values()], lots),
        closed.length
          ? h("ul", { class: "cards" }, closed.map((lot) => this.closedItem(lot)))
          : h("p", { class: "muted", text: "None of your lots has closed yet." }),
      ].filter(Boolean),
    );
  }

  summary(lot, ...lines) {
    return h(
      "div",
      { class: "lot-summary" },
      cover(lot),
      h(
        "div",
        { class: "text" },
        h("h3", {}, h("a", { href: `/lots/${lot.id}`, text: lot.title })),
        ...lines.filter(Boolean).map((line) => h("p", {}, line)),
      ),
    );
  }

  runningItem(lot) {
    const money = (amount) => formatMoney(amount, lot.currency);
    const price =
      lot.bid_count > 0
        ? `${RUNNING_TEXT[lot.status]}: ${lot.bid_count} ${lot.bid_count === 1 ? "bid" : "bids"}, highest ${money(lot.current_bid)} by ${lot.high_bidder}.`
        : `${RUNNING_TEXT[lot.status]}: no bids yet; starts at ${money(lot.starting_price)}.`;
    const reserve = lot.has_reserve ? (lot.reserve_met ? " Reserve met." : " Reserve not met yet.") : "";
    const actions = h("div", { class: "actions" });
    if (lot.bid_count === 0) {
      actions.append(
        h("button", { type: "button", class: "secondary", text: `Edit “${lot.title}”`, onclick: () => this.editor.edit(lot) }),
      );
    }
    actions.append(
      confirmButton({
        label: `Withdraw “${lot.title}”`,
        question: `Withdraw “${lot.title}”? Bidding ends and nobody wins it.`,
        confirmLabel: "Yes, withdraw it",
        onConfirm: () => this.withdraw(lot),
      }),
    );
    return h(
      "li",
      { class: "card-item", "data-lot-id": String(lot.id) },
      this.summary(lot, this.saleLine(lot), price + reserve, `Closes ${formatWhen(lot.ends_at)}.`),
      actions,
    );
  }

  closedItem(lot) {
    return h(
      "li",
      { class: "card-item", "data-lot-id": String(lot.id) },
      this.summary(lot, this.saleLine(lot), resultText(lot)),
    );
  }

  async withdraw(lot) {
    try {
      await api("POST", `/api/lots/${lot.id}/cancel`);
      messages.say(`“${lot.title}” was withdrawn.`);
    } catch (error) {
      messages.fail(`“${lot.title}”: ${deskErrorText(error, { currency: lot.currency })}`);
    }
    if (this.editor.editing && this.editor.editing.id === lot.id) this.editor.reset();
    await this.reload($("lots-heading"));
  }

  async loadPayments() {
    let page;
    try {
      page = await api("GET", "/api/seller/payments?limit=100");
    } catch (error) {
      if (error instanceof ApiError && [404, 405].includes(error.status)) {
        $("payments").replaceChildren(h("p", { class: "muted", text: "This server does not list payments to sellers." }));
        return;
      }
      throw error;
    }
    if (page.items.length === 0) {
      $("payments").replaceChildren(h("p", { class: "muted", text: "No payments for your lots yet." }));
      return;
    }
    // A payment being created turns into one awaiting the buyer with no lot event: look again.
    clearTimeout(this.paymentsTimer);
    if (page.items.some((payment) => payment.status === "CREATING")) {
      this.paymentsTimer = setTimeout(() => {
        if (state === this) this.loadPayments().catch(() => null);
      }, CREATING_RECHECK_MS);
    }
    const rows = page.items.map((payment) => {
      const money = (amount) => formatMoney(amount, payment.currency);
      const breakdown = payment.breakdown || { hammer: payment.amount, premium: 0, total: payment.amount };
      return [
        h("a", {
          href: `/lots/${payment.lot_id}`,
          text: `${payment.lot_number ? `Lot ${payment.lot_number}: ` : ""}${payment.lot_title || `lot ${payment.lot_id}`}`,
        }),
        payment.buyer || payment.winner || payment.bidder || "—",
        statusText(payment.status),
        money(breakdown.hammer),
        money(breakdown.premium),
        money(breakdown.total),
        payment.refunded_amount ? money(payment.refunded_amount) : "—",
        payment.paid_at ? formatWhen(payment.paid_at) : "—",
      ];
    });
    $("payments").replaceChildren(
      table(
        "Payments for your lots",
        ["Lot", "Buyer", "Status", "Hammer", "Premium", "Total", "Refunded", "Paid"],
        rows,
      ),
    );
  }
}

async function onUser(user, { session, config }) {
  messages.clear();
  const gate = $("gate");
  if (!user || !["seller", "admin"].includes(user.role)) {
    $("desk").hidden = true;
    gate.hidden = false;
    gate.textContent = user
      ? `You are signed in as ${user.name || user.sub}, a ${user.role}. This desk is for sellers.`
      : "Sign in as a seller to use this desk.";
    if (state) state.stop();
    state = null;
    return;
  }
  gate.hidden = true;
  $("desk").hidden = false;
  if (state) state.stop();
  state = new SellerDesk(session, config, user);
  await state.reload();
}

$("refresh").addEventListener("click", async () => {
  if (!state) return;
  await state.reload();
  messages.say("The desk is up to date.");
});

startDesk({ role: "seller", guestText: "Not signed in.", messages, onUser });
