// The lot page's bid box: a bid, a confirmation step for large ones, a maximum, buy-now.
// Every outcome is one message (`say`), replacing the one before it for this lot.
import { newRequestId } from "../vendor/auction-client/auction-client.js";
import { bidErrorText } from "./errors.js";
import { formatMoney, parseAmount, toInputString, userLocale } from "./money.js";

const $ = (id) => document.getElementById(id);
/** A bid this many times the minimum next bid asks for confirmation first. */
export const CONFIRM_FACTOR = 3;
const CONFIRM_ABOVE_KEY = "auction.confirm_above";

/** The user's own threshold (major units, in any currency), set on the account page. */
export function confirmAbove() {
  const value = Number(localStorage.getItem(CONFIRM_ABOVE_KEY));
  return Number.isFinite(value) && value > 0 ? value : null;
}

export function setConfirmAbove(value) {
  if (value) localStorage.setItem(CONFIRM_ABOVE_KEY, String(value));
  else localStorage.removeItem(CONFIRM_ABOVE_KEY);
}

export class BidBox {
  /** `page` gives lot(), live, say(text, kind), remember(alias), after(ack). */
  constructor(page) {
    this.page = page;
    this.dirty = { bid: false, max: false };
    this.pending = null;
    this.confirming = null;
    $("bid-amount").addEventListener("input", () => {
      this.dirty.bid = true;
    });
    $("max-amount").addEventListener("input", () => {
      this.dirty.max = true;
    });
    $("bid-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitBid();
    });
    $("max-form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.submitMax();
    });
    $("buy-now-button").addEventListener("click", () => this.askBuyNow());
    $("confirm-yes").addEventListener("click", () => this.confirmed());
    $("confirm-no").addEventListener("click", () => this.cancelConfirm());
    $("confirm").addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.cancelConfirm();
    });
  }

  render({ signedIn, connected }) {
    const lot = this.page.lot();
    const open = lot.status === "OPEN";
    const code = lot.currency.toUpperCase();
    const canBid = open && signedIn;
    $("bid-form").hidden = !canBid || Boolean(this.confirming);
    $("max-form").hidden = !canBid || Boolean(this.confirming);
    $("bid-sign-in").hidden = !(open && !signedIn);
    $("bid-closed").hidden = open;
    $("bid-closed").textContent =
      lot.status === "SCHEDULED" ? "Bidding has not started yet." : "Bidding on this lot has ended.";
    if (!open) this.cancelConfirm(false);
    $("bid-label").textContent = `Your bid (${code})`;
    $("max-label").textContent = `Your maximum bid (${code})`;
    const example = toInputString(lot.min_next_bid, lot.currency);
    $("bid-hint").textContent = `Minimum bid ${formatMoney(lot.min_next_bid, lot.currency)}. Type it like ${example}.`;
    $("bid-submit").disabled = !connected;
    $("max-submit").disabled = !connected;
    if (!this.dirty.bid) $("bid-amount").value = toInputString(lot.min_next_bid, lot.currency);
    const buyNow = open && signedIn && lot.buy_now_price != null;
    $("buy-now").hidden = !buyNow || Boolean(this.confirming);
    if (buyNow) $("buy-now-button").textContent = `Buy now for ${formatMoney(lot.buy_now_price, lot.currency)}`;
    $("buy-now-button").disabled = !connected;
  }

  read(inputId) {
    const lot = this.page.lot();
    const input = $(inputId);
    input.removeAttribute("aria-invalid");
    try {
      return parseAmount(input.value, lot.currency, userLocale());
    } catch (error) {
      input.setAttribute("aria-invalid", "true");
      this.page.say(error.message, "error");
      input.focus();
      return null;
    }
  }

  /** Why this bid needs a second look, or null. */
  reasonToConfirm(amount) {
    const lot = this.page.lot();
    const money = (value) => formatMoney(value, lot.currency);
    if (amount >= CONFIRM_FACTOR * lot.min_next_bid) {
      const times = Math.floor(amount / lot.min_next_bid);
      return `That is ${times} times the minimum bid of ${money(lot.min_next_bid)}.`;
    }
    const above = confirmAbove();
    if (above !== null && Number(toInputString(amount, lot.currency, "en-US")) > above) {
      return `That is above the ${above} you asked us to check.`;
    }
    return null;
  }

  submitBid() {
    const amount = this.read("bid-amount");
    if (amount === null) return;
    const reason = this.reasonToConfirm(amount);
    if (reason) return this.askConfirm({ kind: "bid", amount, reason });
    return this.placeBid(amount);
  }

  submitMax() {
    const amount = this.read("max-amount");
    if (amount === null) return;
    const reason = this.reasonToConfirm(amount);
    if (reason) return this.askConfirm({ kind: "max", amount, reason });
    return this.setMax(amount);
  }

  askBuyNow() {
    const lot = this.page.lot();
    this.askConfirm({
      kind: "buy",
      amount: lot.buy_now_price,
      reason: "The auction ends at once and you must then pay for the lot.",
    });
  }

  askConfirm(step) {
    const lot = this.page.lot();
    const money = formatMoney(step.amount, lot.currency);
    this.confirming = step;
    this.page.say("", "progress");
    const what = { bid: `bid ${money}`, max: `set a maximum bid of ${money}`, buy: `buy this lot now for ${money}` };
    $("confirm-text").textContent = `Do you want to ${what[step.kind]}? ${step.reason}`;
    $("confirm-yes").textContent = {
      bid: `Confirm bid of ${money}`,
      max: `Confirm maximum of ${money}`,
      buy: `Confirm: buy for ${money}`,
    }[step.kind];
    $("confirm").hidden = false;
    this.page.rerender();
    $("confirm-yes").focus();
  }

  cancelConfirm(refocus = true) {
    if (!this.confirming) return;
    const kind = this.confirming.kind;
    this.confirming = null;
    $("confirm").hidden = true;
    this.page.rerender();
    if (refocus) $(kind === "max" ? "max-amount" : kind === "buy" ? "buy-now-button" : "bid-amount").focus();
  }

  confirmed() {
    const step = this.confirming;
    if (!step) return;
    this.confirming = null;
    $("confirm").hidden = true;
    this.page.rerender();
    if (step.kind === "bid") this.placeBid(step.amount);
    else if (step.kind === "max") this.setMax(step.amount);
    else this.buyNow();
  }

  async placeBid(amount) {
    const lot = this.page.lot();
    // A retry of a bid whose answer never came reuses its request_id, so it cannot count twice.
    if (!this.pending || this.pending.amount !== amount) this.pending = { amount, requestId: newRequestId() };
    this.page.say("Placing your bid…", "progress");
    $("bid-submit").disabled = true;
    const ack = await this.page.live.placeBid({ lotId: lot.id, amount, requestId: this.pending.requestId });
    $("bid-submit").disabled = false;
    if (ack.ok) {
      this.pending = null;
      this.dirty.bid = false;
      if (ack.bid) this.page.remember(ack.bid.bidder);
      this.page.after(ack);
      const money = (value) => formatMoney(value, lot.currency);
      const placed = money(ack.bid ? ack.bid.amount : amount);
      if (ack.leading === false) {
        // Placed, and answered at once by another bidder's maximum in the same moment.
        const now = this.page.lot();
        this.page.say(
          `You were outbid: your bid of ${placed} was placed, but another bidder's maximum ` +
            `answered it at ${money(now.current_bid)}. Bid at least ${money(now.min_next_bid)} to lead.`,
          "error",
        );
        return;
      }
      this.page.say(`Your bid of ${placed} is the highest.`, "done");
      return;
    }
    if (ack.error.code !== "unavailable") this.pending = null;
    this.refused(ack.error, "bid-amount");
  }

  async setMax(maxAmount) {
    const lot = this.page.lot();
    this.page.say("Setting your maximum…", "progress");
    const ack = await this.page.live.setMaxBid({ lotId: lot.id, maxAmount });
    if (!ack.ok) return this.refused(ack.error, "max-amount");
    this.dirty.max = false;
    $("max-amount").value = "";
    this.page.after(ack);
    const money = formatMoney(ack.max_amount, lot.currency);
    this.page.say(
      ack.leading
        ? `Your maximum of ${money} is set, and you are the highest bidder. We bid for you up to it.`
        : `Your maximum of ${money} is set, but another bidder's maximum is higher.`,
      ack.leading ? "done" : "error",
    );
  }

  async buyNow() {
    const lot = this.page.lot();
    this.page.say("Buying the lot…", "progress");
    const ack = await this.page.live.buyNow({ lotId: lot.id });
    if (!ack.ok) return this.refused(ack.error, "buy-now-button");
    this.page.after(ack);
    this.page.say("You bought this lot with Buy now. Pay for it below.", "done");
  }

  refused(error, inputId) {
    const lot = this.page.lot();
    if (typeof error.min_next_bid === "number") {
      lot.min_next_bid = error.min_next_bid;
      if (inputId === "bid-amount") this.dirty.bid = false;
      this.page.rerender();
    }
    const input = $(inputId);
    if (input.tagName === "INPUT") input.setAttribute("aria-invalid", "true");
    this.page.say(bidErrorText(error, lot.currency), "error");
  }
}
