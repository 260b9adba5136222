// Errors and failures in the user's words, with amounts in major units (never "6500 cents").
import { formatMoney } from "./money.js";

/** A bid, maximum or buy-now refusal (an ack's error) → one sentence for the bidder. */
export function bidErrorText(error, currency) {
  const money = (amount) => formatMoney(amount, currency);
  switch (error.code) {
    case "bid_too_low":
      if (/already \d+/.test(error.message || "")) {
        const current = Number(error.message.match(/already (\d+)/)[1]);
        return `Your maximum is already ${money(current)}; a maximum can only be raised.`;
      }
      return typeof error.min_next_bid === "number"
        ? `Your bid is too low: the minimum is now ${money(error.min_next_bid)}.`
        : "Your bid is too low.";
    case "already_highest":
      return "You already hold the highest bid.";
    case "lot_locked":
      return "Bidding has closed: the hammer fell and the lot awaits the winner's payment.";
    case "auction_ended":
      return "Bidding on this lot has ended.";
    case "lot_not_open":
      return "Bidding on this lot has not started yet.";
    case "own_lot":
      return "You are the seller of this lot, so you cannot bid on it.";
    case "bidder_suspended":
      return "You cannot bid: unpaid wins suspended your bidding. See My account for your strikes.";
    case "card_required":
      return "Save a card in My account before you bid.";
    case "buy_now_unavailable":
      return "Buy now is no longer offered on this lot.";
    case "rate_limited":
      return "Too many bids in a short time; wait a moment and try again.";
    case "unavailable":
      return "The server cannot be reached; your bid was not placed. Try again.";
    case "unauthorized":
      return "Your sign-in is no longer valid. Sign in again to bid.";
    case "validation_error":
      if (/multiples of (\d+)/.test(error.message || "")) {
        const step = Number(error.message.match(/multiples of (\d+)/)[1]);
        return `Amounts in ${currency.toUpperCase()} go in steps of ${money(step)}.`;
      }
      return error.message;
    default:
      // amount_too_large and others name their limits in major units already.
      return error.message || "That did not work; try again.";
  }
}

const CARD_FAILURES = {
  card_declined: "Your card was declined.",
  insufficient_funds: "Your card was declined: not enough funds.",
  expired_card: "Your card has expired.",
  incorrect_cvc: "The security code (CVC) is not correct.",
  incorrect_number: "The card number is not correct.",
  invalid_expiry_month: "The expiry month is not valid.",
  invalid_expiry_year: "The expiry year is not valid.",
  processing_error: "Your bank could not process the card; try again.",
  authentication_required: "Your bank needs you to confirm this payment.",
  payment_intent_authentication_failure:
    "Your bank could not confirm the payment (the 3-D Secure check was not completed). " +
    "Try again, or use another card.",
};

/**
 * A payment failure → our own words. `kind` "authentication" marks a failed 3-D Secure
 * check, whose raw text from Stripe ("We are unable to authenticate...") is never shown.
 */
export function paymentFailureText({ code, message, kind } = {}) {
  if (code && CARD_FAILURES[code]) return CARD_FAILURES[code];
  if (kind === "authentication" || /authenticat|3d secure|3ds/i.test(message || "")) {
    return CARD_FAILURES.payment_intent_authentication_failure;
  }
  if (/declined/i.test(message || "")) return CARD_FAILURES.card_declined;
  return "The payment did not go through. Check the card details and try again.";
}

/**
 * A server error about money (a refund, a price) for a person: a bare integer in the server's
 * message is an amount in minor units ("At most 2000 can be refunded"), so it is shown in
 * major units with the currency ("At most $20.00 can be refunded").
 */
export function moneyErrorText(error, currency) {
  return (error.message || "That did not work.").replace(/(?<![\w.])(\d+)(?![\w.])/g, (digits) =>
    formatMoney(Number(digits), currency),
  );
}
