// The seller desk's results: each closed lot in words, and each sale summed up.
import { h } from "../dom.js";
import { formatMoney } from "./common.js";

/** A closed lot's result, bidders by alias only. */
export function resultText(lot) {
  const money = (amount) => formatMoney(amount, lot.currency);
  switch (lot.status) {
    case "SOLD":
      return `Sold to ${lot.winner} for ${money(lot.hammer_price)}.`;
    case "PENDING_PAYMENT":
      return `Won by ${lot.winner} at ${money(lot.hammer_price)}; awaiting their payment.`;
    case "UNSOLD":
      return lot.bid_count > 0
        ? `Unsold: the highest bid, ${money(lot.current_bid)}, did not meet the reserve or was not paid.`
        : "Unsold: no bids.";
    case "CANCELED":
      return "Withdrawn.";
    default:
      return lot.status;
  }
}

const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;

/** "“Winter sale” (closed): 3 lots; 2 sold for €1,250.00 in all; 1 unsold." */
export function saleSummary(sale, lots) {
  const mine = lots.filter((lot) => lot.sale_id === sale.id);
  const sold = mine.filter((lot) => lot.status === "SOLD");
  const awaiting = mine.filter((lot) => lot.status === "PENDING_PAYMENT");
  const unsold = mine.filter((lot) => lot.status === "UNSOLD");
  const running = mine.filter((lot) => lot.status === "OPEN" || lot.status === "SCHEDULED");
  const total = sold.reduce((sum, lot) => sum + lot.hammer_price, 0);
  const parts = [count(mine.length, "lot", "lots")];
  if (sold.length) parts.push(`${sold.length} sold for ${formatMoney(total, sale.currency)} in all`);
  if (awaiting.length) parts.push(`${awaiting.length} awaiting payment`);
  if (unsold.length) parts.push(`${unsold.length} unsold`);
  if (running.length) parts.push(`${running.length} still open or to come`);
  const state = { SCHEDULED: "not open yet", OPEN: "open", CLOSED: "closed" }[sale.status] || sale.status;
  return `“${sale.title}” (${state}): ${parts.join("; ")}.`;
}

/** The sales summed up, above the closed lots; nothing when the seller has no sale. */
export function salesSummaries(sales, lots) {
  if (sales.length === 0) return null;
  return h(
    "ul",
    { class: "sale-summaries", "aria-label": "Your sales" },
    sales.map((sale) => h("li", { text: saleSummary(sale, lots) })),
  );
}
