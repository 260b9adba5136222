// Links to printable receipts that work as plain links: the server signs a short-lived URL
// (POST /api/payments/{id}/receipt-link), so no Authorization header is needed to open it.
import { api } from "./api.js";
import { h } from "./dom.js";

/** Seconds of validity a link must still have to be followed as it is. */
const FRESH_ENOUGH_MS = 30_000;

/** An <a> opening payment `paymentId`'s receipt in a new tab; it keeps its URL fresh. */
export function receiptLink(paymentId, text = "Open the receipt") {
  return printableLink(`/api/payments/${paymentId}/receipt-link`, text);
}

/** The same for a sale's invoice (POST /api/invoices/{id}/link). */
export function invoiceLink(invoiceId, text = "Open the invoice") {
  return printableLink(`/api/invoices/${invoiceId}/link`, text);
}

/** An <a> whose href is the signed URL `endpoint` answers, asked again near its expiry. */
export function printableLink(endpoint, text) {
  const link = h("a", {
    class: "receipt-link",
    href: "#",
    target: "_blank",
    rel: "noopener",
    text,
    "aria-disabled": "true",
  });
  let expiresAt = 0;
  let pending = null;
  const refresh = () => {
    pending =
      pending ||
      api("POST", endpoint)
        .then((answer) => {
          link.href = answer.url;
          link.removeAttribute("aria-disabled");
          expiresAt = Date.parse(answer.expires_at) || Date.now() + 60_000;
        })
        .finally(() => {
          pending = null;
        });
    return pending;
  };
  refresh().catch(() => {});
  link.addEventListener("click", (event) => {
    if (expiresAt - Date.now() > FRESH_ENOUGH_MS) return;
    event.preventDefault();
    refresh().then(
      () => window.open(link.href, "_blank", "noopener"),
      (error) => {
        link.after(h("span", { class: "error", role: "alert", text: ` It cannot be opened: ${error.message}` }));
      },
    );
  });
  return link;
}
