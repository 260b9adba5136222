// The admin desk's lots not yet closed: close now, cancel.
import { api } from "../api.js";
import { h } from "../dom.js";
import { confirmButton, formatMoney, formatWhen, table } from "./common.js";
import { deskErrorText } from "./errors.js";

const LOT_STATUS_TEXT = { SCHEDULED: "Not open yet", OPEN: "Open" };

export class LotControls {
  constructor({ root, heading, messages, titles, onChanged }) {
    Object.assign(this, { root, heading, messages, titles, onChanged });
  }

  async load() {
    const pages = await Promise.all(
      ["OPEN", "SCHEDULED"].map((status) => api("GET", `/api/lots?status=${status}&limit=200`)),
    );
    const lots = pages.flatMap((page) => page.items);
    lots.sort((a, b) => Date.parse(a.ends_at) - Date.parse(b.ends_at));
    for (const lot of lots) this.titles.remember(lot);
    if (lots.length === 0) {
      this.root.replaceChildren(h("p", { class: "muted", text: "Every lot has closed." }));
      return;
    }
    this.root.replaceChildren(
      table(
        "Lots not yet closed",
        ["Lot", "Seller", "Status", "Current bid", "Closes", "Actions"],
        lots.map((lot) => [
          h("a", { href: `/lots/${lot.id}`, text: lot.title }),
          lot.seller_id,
          LOT_STATUS_TEXT[lot.status] || lot.status,
          lot.current_bid === null ? "No bids" : formatMoney(lot.current_bid, lot.currency),
          formatWhen(lot.ends_at),
          this.actions(lot),
        ]),
      ),
    );
  }

  actions(lot) {
    const cell = h("div", { class: "actions" });
    if (lot.status === "OPEN") {
      cell.append(
        confirmButton({
          label: `Close “${lot.title}” now`,
          question: `Close “${lot.title}” now? The highest bid wins, as if time had run out.`,
          confirmLabel: "Yes, close it",
          onConfirm: () => this.act(lot, "close"),
        }),
      );
    }
    cell.append(
      confirmButton({
        label: `Cancel “${lot.title}”`,
        question: `Cancel “${lot.title}”? It is withdrawn and nobody wins it.`,
        confirmLabel: "Yes, cancel the lot",
        onConfirm: () => this.act(lot, "cancel"),
      }),
    );
    return cell;
  }

  async act(lot, action) {
    try {
      const after = await api("POST", `/api/lots/${lot.id}/${action}`);
      if (action === "cancel") this.messages.say(`“${lot.title}” was cancelled.`);
      else if (after.status === "PENDING_PAYMENT") {
        this.messages.say(`“${lot.title}” closed at ${formatMoney(after.hammer_price, after.currency)}; the winner is asked to pay.`);
      } else this.messages.say(`“${lot.title}” closed unsold.`);
    } catch (error) {
      this.messages.fail(`“${lot.title}”: ${deskErrorText(error, { currency: lot.currency })}`);
    }
    await this.onChanged(this.heading);
  }
}
