// The demo page: wires the session, the live connection, the lots and the payments.
// The connection is the integrators' client (clients/js, served as package data):
// acks that always answer, lots kept in seq order, re-joins on a gap or reconnect.
import { AuctionClient } from "../vendor/auction-client/auction-client.js";
import { api, useToken } from "./api.js";
import { announce, h } from "./dom.js";
import { LotBoard } from "./lots.js";
import { configureCurrencies } from "./money.js";
import { PaymentDesk } from "./payments.js";
import { Session } from "./session.js";

const LOT_POLL_MS = 15_000;
const MAX_NOTICES = 3;

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Connection lost: reconnecting…",
  unavailable: "Live updates are unavailable: the Socket.IO client did not load.",
  refused: "Not connected: the sign-in was refused.",
  stopped: "Offline.",
};

const $ = (id) => document.getElementById(id);

function showFatal(message) {
  const fatal = $("fatal");
  fatal.textContent = message;
  fatal.hidden = false;
}

/** A visible notice; a newer one with the same key replaces the older. */
function notice(text, key = "") {
  const list = $("notices");
  if (key) clearNotice(key);
  const item = h(
    "div",
    { class: "notice", "data-key": key },
    h("p", { text }),
    h("button", { type: "button", class: "link", text: "Dismiss", onclick: () => item.remove() }),
  );
  list.prepend(item);
  while (list.children.length > MAX_NOTICES) list.lastElementChild.remove();
}

function clearNotice(key) {
  for (const item of $("notices").querySelectorAll(".notice")) {
    if (item.dataset.key === key) item.remove();
  }
}

function showHelp(config) {
  const help = $("help");
  if (config.stripe.stand_in) {
    help.append(
      h("p", { text: "Payments go to a local Stripe stand-in. Test cards (any future expiry, any CVC):" }),
      h(
        "ul",
        {},
        h("li", { text: "4242 4242 4242 4242 pays" }),
        h("li", { text: "4000 0000 0000 0341 is declined" }),
        h("li", { text: "4000 0000 0000 3220 asks for 3-D Secure" }),
      ),
    );
  } else {
    help.append(h("p", { text: "Card details go straight to Stripe; this server never sees them." }));
  }
}

async function start() {
  let config;
  try {
    config = await api("GET", "/api/demo/config");
  } catch (error) {
    showFatal(`The auction cannot start: ${error.message}`);
    return;
  }
  configureCurrencies(config.currencies);
  showHelp(config);

  let board;
  let desk;
  let session;
  const live = new AuctionClient();
  live.on("state", (state) => {
    const line = $("connection");
    line.textContent = CONNECTION_TEXT[state];
    line.dataset.state = state;
    board.connectionChanged();
  });
  live.on("snapshot", (lot) => {
    board.show(lot);
    desk.lotShown(lot.id);
  });
  live.on("lot_event", ({ name, data }) => board.apply(name, data));
  live.on("outbid", (data) => {
    const text = board.outbid(data);
    notice(text, `lot-${data.lot_id}`);
    announce(text, { urgent: true });
  });
  live.on("payment_required", (data) => desk.required(data));
  live.on("payment_action_required", (data) => desk.actionRequired(data));
  live.on("payment_failed", (data) => desk.failed(data));
  live.on("payment_succeeded", (data) => desk.succeeded(data));
  live.on("payment_expired", (data) => desk.expired(data));
  live.on("connected", async () => {
    if (!session.user) return;
    const ack = await live.myPayments();
    if (ack.ok) await desk.reconcile(ack.payments);
  });
  live.on("refused", (error) => session.refused(error.message));
  live.on("join_failed", ({ lotId }) => {
    board.saveJoins();
    board.refresh(lotId);
  });
  board = new LotBoard({
    list: $("lot-list"),
    empty: $("lots-empty"),
    live,
    hasMyPayment: (lotId) => desk.hasMyPayment(lotId),
    clearNotice: (lotId) => clearNotice(`lot-${lotId}`),
  });
  desk = new PaymentDesk({
    section: $("payments"),
    list: $("payment-list"),
    board,
    stripeConfig: config.stripe,
  });
  session = new Session({
    root: $("session"),
    config,
    onChange(user, token) {
      useToken(token);
      desk.clear();
      board.setUser(user);
      live.connect(token);
    },
  });
  if (typeof window.io !== "function") {
    showFatal(
      "Live bidding is unavailable: the Socket.IO browser client was not served. " +
        "Run `npm ci` in the project folder and reload.",
    );
  }

  // Lots joined before a reload are joined again once connected.
  for (const lotId of board.savedJoins()) live.join(lotId);

  async function loadLots() {
    try {
      const page = await api("GET", "/api/lots?status=OPEN&limit=100");
      const open = new Set(page.items.map((lot) => lot.id));
      for (const lot of page.items) live.offerSnapshot(lot);
      board.prune(open);
      $("lots-empty").hidden = board.cards.size > 0;
    } catch (error) {
      // While the connection is down the header says so already.
      if (live.connected) notice(`The list of lots could not be refreshed: ${error.message}`);
    }
  }

  await loadLots();
  setInterval(loadLots, LOT_POLL_MS);
  session.restore();
}

start();
