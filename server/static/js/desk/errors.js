// The server's refusals in the desk user's words, with amounts in major units.
import { formatMoney, inMajorUnits } from "./common.js";

const FIELD_LABELS = {
  title: "Title",
  description: "Description",
  currency: "Currency",
  starting_price: "Starting price",
  reserve_price: "Reserve price",
  bid_increment: "Bid increment",
  buy_now_price: "Buy-now price",
  starts_at: "Opens at",
  ends_at: "Closes at",
  amount: "Amount",
  reason: "Reason",
  method: "Method",
  reference: "Reference",
};

/** "'starting_price' must be ..." → "Starting price must be ...". */
export function fieldMessage(message) {
  return String(message || "").replace(/'([a-z_]+)'/g, (whole, name) => FIELD_LABELS[name] || whole);
}

/** One sentence for the person at the desk. `currency` turns minor units into major ones. */
export function deskErrorText(error, { currency } = {}) {
  const details = error.details || {};
  const money = (amount) => (currency ? formatMoney(amount, currency) : String(amount));
  switch (error.code) {
    case "unauthorized":
      return "Your sign-in is no longer valid. Sign in again.";
    case "forbidden":
      return "Your sign-in does not allow this. Sign in with the right role.";
    case "not_found":
      return error.message || "Not found: it may have been removed.";
    case "refund_exceeds_payment":
      return typeof details.refundable === "number" && details.refundable > 0
        ? `At most ${money(details.refundable)} can be refunded.`
        : "Nothing is left to refund.";
    case "not_refundable":
      return "Only a paid payment can be refunded.";
    case "invoice_not_paid":
      return "Only a paid invoice can be refunded.";
    case "invoice_not_payable":
      return "This invoice is no longer awaiting payment.";
    case "line_refunded":
      return "This lot has been refunded already.";
    case "refund_failed": {
      const why = String(error.message || "").replace(/^Stripe refused [^:]*:\s*/, "");
      return (
        `Stripe refused the refund${why ? ` (${why})` : ""}. The payment is listed under ` +
        "“Payments needing attention”, where the refund can be retried."
      );
    }
    case "unavailable":
      return error.message || "The server cannot be reached. Nothing was changed; try again.";
    case "no_pending_payment":
      return "This payment no longer awaits the buyer, so there is nothing to release.";
    case "nothing_to_retry":
      return `Nothing to retry: ${error.message}.`;
    case "payment_busy":
      return "Stripe is being asked right now; wait a moment, then retry.";
    case "not_suspended":
      return "This user is not suspended.";
    case "lot_has_bids":
      return "This lot has bids now, so it can no longer be edited.";
    case "rate_limited":
      return "Too many requests in a short time; wait a moment and try again.";
    case "validation_error":
      // "Refunds in usd must be multiples of 5": the step in major units.
      return fieldMessage(error.message).replace(/multiples? of (\d+)(?: in [a-z]{3})?(?: \([^)]*\))?/, (whole, step) =>
        currency ? `in steps of ${money(Number(step))}` : whole,
      );
    default:
      return fieldMessage(currency ? inMajorUnits(error.message, currency) : error.message) ||
        "That did not work; try again.";
  }
}
