// The demo page: wires the session, the live connection, the lots and the payments.
import { api, useToken } from "./api.js";
import { announce, h } from "./dom.js";
import { Live } from "./live.js";
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
  const live = new Live({
    onState(state) {
      const line = $("connection");
      line.textContent = CONNECTION_TEXT[state];
      line.dataset.state = state;
      board.connectionChanged();
    },
    onSnapshot(lot) {
      board.show(lot);
      desk.lotShown(lot.id);
    },
    onLotEvent: (name, data) => board.apply(name, data),
    onUserEvent(name, data) {
      if (name === "outbid") {
        const text = board.outbid(data);
        notice(text, `lot-${data.lot_id}`);
        announce(text, { urgent: true });
      } else if (name === "payment_required") desk.required(data);
      else if (name === "payment_action_required") desk.actionRequired(data);
      else if (name === "payment_failed") desk.failed(data);
      else if (name === "payment_succeeded") desk.succeeded(data);
      else if (name === "payment_expired") desk.expired(data);
    },
    async onConnected() {
      if (!session.user) return;
      const ack = await live.call("my_payments", {});
      if (ack.ok) await desk.reconcile(ack.payments);
    },
    onRefused: (error) => session.refused(error.message),
    onJoinFailed(lotId) {
      board.saveJoins();
      board.refresh(lotId);
    },
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
      live.start(token);
    },
  });
  if (typeof window.io !== "function") {
    showFatal(
      "Live bidding is unavailable: the Socket.IO browser client was not served. " +
        "Run `npm ci` in the project folder and reload.",
    );
  }

  // Lots joined before a reload are joined again once connected.
  for (const lotId of board.savedJoins()) live.lots.set(lotId, { seq: null, syncing: false, buffer: [] });

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
