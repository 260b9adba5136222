// Test helpers: a real server (AUCTION_URL), tokens signed with its secret, REST calls.
import { createHmac, randomUUID } from "node:crypto";
import { createRequire } from "node:module";

// socket.io-client: from node_modules when installed, else the browser bundle the server
// ships (run node with --experimental-websocket on Node 20-21 for that one).
const require = createRequire(import.meta.url);
const { io } = loadSocketIo();

function loadSocketIo() {
  try {
    return require("socket.io-client");
  } catch {
    return require("../../../server/static/vendor/socket.io-client/socket.io.min.js");
  }
}

import { AuctionClient } from "../src/auction-client.js";

export const URL = process.env.AUCTION_URL;
const SECRET = process.env.AUCTION_JWT_SECRET;

export function configured() {
  return Boolean(URL && SECRET);
}

const base64url = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");

/** An HS256 token as the server expects (`sub`, `role`, `exp`). */
export function token(sub, role = "bidder") {
  const head = base64url({ alg: "HS256", typ: "JWT" });
  const body = base64url({ sub, role, exp: Math.floor(Date.now() / 1000) + 3600 });
  const signature = createHmac("sha256", SECRET).update(`${head}.${body}`).digest("base64url");
  return `${head}.${body}.${signature}`;
}

/** A unique user name, so tests sharing one server do not meet. */
export function someone(name) {
  return `${name}-${randomUUID().slice(0, 8)}`;
}

export async function rest(method, path, { as, role = "bidder", body } = {}) {
  const headers = { "Content-Type": "application/json" };
  if (as) headers.Authorization = `Bearer ${token(as, role)}`;
  const response = await fetch(URL + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

export async function createLot(fields = {}) {
  const endsAt = new Date(Date.now() + 3600_000).toISOString();
  const seller = someone("sam");
  const { status, body } = await rest("POST", "/api/lots", {
    as: seller,
    role: "seller",
    body: { title: "Test lot", currency: "usd", starting_price: 1000, bid_increment: 100, ends_at: endsAt, ...fields },
  });
  if (status !== 201) throw new Error(`creating a lot: ${status} ${JSON.stringify(body)}`);
  return { lot: body, seller };
}

const clients = [];

/** A connected AuctionClient (for `sub`, or a watcher), closed by closeAll(). */
export async function connected(sub = null, options = {}) {
  const client = new AuctionClient({
    url: URL,
    io,
    token: sub ? token(sub) : null,
    socketOptions: { transports: ["websocket"], reconnectionDelay: 200, reconnectionDelayMax: 400 },
    ...options,
  });
  clients.push(client);
  const live = waitFor(client, "state", (state) => state === "live" || state === "refused");
  client.connect();
  await live;
  return client;
}

export function closeAll() {
  for (const client of clients.splice(0)) client.disconnect();
}

/** The next `name` event of `client` that matches, within `ms`. */
export function waitFor(client, name, predicate = () => true, ms = 5_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`no matching ${name} within ${ms} ms`));
    }, ms);
    const stop = client.on(name, (data) => {
      if (!predicate(data)) return;
      clearTimeout(timer);
      stop();
      resolve(data);
    });
  });
}

/** Every `name` event of `client` from now on. */
export function record(client, name) {
  const seen = [];
  client.on(name, (data) => seen.push(data));
  return seen;
}
