// What every page shares: config, the signed-in user, the live connection and its status line.
// A page calls startPage({...}) and gets {config, session, live}.
import { AuctionClient } from "../vendor/auction-client/auction-client.js";
import { api, onUnauthorized, useToken } from "./api.js";
import { h } from "./dom.js";
import { configureCurrencies } from "./money.js";
import { Session } from "./session.js";

const CONNECTION_TEXT = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Connection lost: reconnecting…",
  unavailable: "Live updates are unavailable: the Socket.IO client did not load.",
  refused: "Not connected: the sign-in was refused.",
  stopped: "Offline.",
};

export const $ = (id) => document.getElementById(id);

export function showFatal(message) {
  const fatal = $("fatal");
  fatal.textContent = message;
  fatal.hidden = false;
}

function showHelp(config) {
  const help = $("help");
  if (!help) return;
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

/**
 * Load the config, then wire the session and the live connection. `onUser(user, token)` runs
 * on every sign-in and sign-out (before the connection is remade); `live` is connected after.
 */
export async function startPage({ onUser = () => {}, verb = "Bidding" } = {}) {
  let config;
  try {
    config = await api("GET", "/api/demo/config");
  } catch (error) {
    showFatal(`The auction cannot start: ${error.message}`);
    return null;
  }
  configureCurrencies(config.currencies);
  showHelp(config);
  const live = new AuctionClient();
  live.on("state", (state) => {
    const line = $("connection");
    line.textContent = CONNECTION_TEXT[state];
    line.dataset.state = state;
  });
  const session = new Session({
    root: $("session"),
    config,
    verb,
    onChange(user, token) {
      useToken(token);
      onUser(user, token);
      live.connect(token);
    },
    // A renewed token: api() already uses it; the live connection keeps its session and
    // presents the new token if it has to connect again.
    onRenew(token) {
      live.token = token;
    },
  });
  live.on("refused", (error) => session.refused(error.message));
  onUnauthorized((message) => session.refused(message));
  if (typeof window.io !== "function") {
    showFatal(
      "Live bidding is unavailable: the Socket.IO browser client was not served. " +
        "Run `npm ci` in the project folder and reload.",
    );
  }
  return { config, session, live };
}
