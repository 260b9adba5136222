// A client for the auction server's Socket.IO events (see /api/asyncapi.json).
//
// Plain ES module, no build step, no imports: hand it the socket.io-client `io`
// function (in a browser the bundle's global `io` is used when none is given).
//
// What it does for you:
// - acks that always answer: a lost connection or a timeout becomes
//   {ok: false, error: {code: "unavailable"}}, never a thrown error or a hang;
// - lots stay in order: each joined lot remembers the last `seq` it applied. An
//   event at seq+1 is applied; an older one was already seen (joining can deliver
//   one twice); a newer one means events were missed, so the lot is joined again
//   for a fresh snapshot while the events that arrive meanwhile are held back and
//   replayed after it. An event still beyond a gap after that is dropped and one
//   more re-join follows a little later: a broken stream costs a re-join every few
//   seconds at most, never a loop. A `resync` hint from the server (events may have
//   been lost between its processes) re-joins the lot unless its seq was seen;
// - every joined lot is joined again after a reconnect, and lots joined while
//   offline are joined once connected;
// - bids carry a request id, and a bid whose answer was lost is retried with the
//   same id, so it counts once however often it is sent;
// - payment events for the signed-in user, re-sent by the server on every connect
//   while a payment awaits them.

export const LOT_EVENTS = Object.freeze(["bid_placed", "lot_extended", "lot_status"]);
export const USER_EVENTS = Object.freeze([
  "outbid",
  "payment_required",
  "payment_action_required",
  "payment_failed",
  "payment_succeeded",
  "payment_expired",
]);

const DEFAULTS = {
  ackTimeoutMs: 10_000,
  resyncAgainMs: 2_000,
  bidAttempts: 3,
  bidRetryDelayMs: 500,
  reconnectDelayMs: 1_000,
  reconnectDelayMaxMs: 10_000,
};

/** An ack-shaped refusal made on this side. */
export function failure(code, message) {
  return { ok: false, error: { code, message } };
}

/** A fresh id for a bid: reuse it to retry that bid. */
export function newRequestId() {
  const crypto = globalThis.crypto;
  if (crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}-${Math.random().toString(36).slice(2)}`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class AuctionClient {
  /**
   * options: url (default: the page's origin), token, io, socketOptions (passed to io()),
   * and the timings in DEFAULTS.
   */
  constructor(options = {}) {
    this.options = { ...DEFAULTS, ...options };
    this.url = options.url;
    this.token = options.token ?? null;
    this.socket = null;
    this.state = "stopped";
    this.listeners = new Map();
    this.lots = new Map();
    this.retryDelayMs = this.options.reconnectDelayMs;
    this.retryTimer = null;
  }

  // --- listeners ------------------------------------------------------------------------------

  /**
   * Listen to `name`: a server event ("bid_placed", "payment_required", ...) or one of the
   * client's own: "state" (connecting | live | reconnecting | refused | unavailable |
   * stopped), "connected", "snapshot" (a lot), "lot_event" ({name, data}, in seq order),
   * "join_failed" ({lotId, error}), "refused" (the server's {code, message}).
   * Returns a function that stops listening.
   */
  on(name, listener) {
    if (!this.listeners.has(name)) this.listeners.set(name, new Set());
    this.listeners.get(name).add(listener);
    return () => this.listeners.get(name).delete(listener);
  }

  emit(name, data) {
    for (const listener of this.listeners.get(name) || []) {
      try {
        listener(data);
      } catch (error) {
        // One broken listener must not stop the others or the event stream.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  setState(state) {
    this.state = state;
    this.emit("state", state);
  }

  // --- the connection -------------------------------------------------------------------------

  get connected() {
    return Boolean(this.socket && this.socket.connected);
  }

  /** Connect (again) with `token` (null or omitted: a watcher who may not bid). */
  connect(token = this.token) {
    this.disconnect();
    this.token = token ?? null;
    const io = this.options.io || globalThis.io;
    if (typeof io !== "function") {
      this.setState("unavailable");
      return this;
    }
    const socketOptions = {
      auth: (send) => send(this.token ? { token: this.token } : {}),
      transports: ["websocket", "polling"],
      reconnectionDelayMax: 5_000,
      ...this.options.socketOptions,
    };
    const socket = this.url ? io(this.url, socketOptions) : io(socketOptions);
    this.socket = socket;
    this.setState("connecting");
    socket.on("connect", () => this.connectedNow());
    socket.on("disconnect", (reason) => this.disconnected(reason));
    socket.on("connect_error", (error) => this.connectFailed(error));
    for (const name of LOT_EVENTS) socket.on(name, (data) => this.lotEvent(name, data));
    socket.on("resync", (data) => this.resyncHint(data));
    for (const name of USER_EVENTS) socket.on(name, (data) => this.emit(name, data));
    return this;
  }

  /** Close the connection. Joined lots are kept and joined again by the next connect(). */
  disconnect() {
    clearTimeout(this.retryTimer);
    if (this.socket) {
      this.socket.removeAllListeners();
      this.socket.disconnect();
      this.socket = null;
      for (const sub of this.lots.values()) this.forget(sub);
      this.setState("stopped");
    }
  }

  connectedNow() {
    this.retryDelayMs = this.options.reconnectDelayMs;
    this.setState("live");
    for (const lotId of this.lots.keys()) this.resync(lotId);
    this.emit("connected");
  }

  disconnected(reason) {
    if (reason === "io client disconnect") return;
    for (const sub of this.lots.values()) this.forget(sub);
    this.setState("reconnecting");
    // The server let us go (a restart or deploy): socket.io does not come back by itself.
    if (reason === "io server disconnect") this.reconnectSoon();
  }

  connectFailed(error) {
    const data = error && error.data;
    if (data && data.code === "unauthorized") {
      this.setState("refused");
      this.emit("refused", data);
      return;
    }
    this.setState("reconnecting");
    if (this.socket && !this.socket.active) this.reconnectSoon();
  }

  reconnectSoon() {
    clearTimeout(this.retryTimer);
    const delay = this.retryDelayMs * (0.75 + Math.random() / 2);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.options.reconnectDelayMaxMs);
    this.retryTimer = setTimeout(() => {
      if (this.socket && !this.socket.connected) this.socket.connect();
    }, delay);
  }

  /** Emit with an ack; always resolves to an ack-shaped answer, never throws. */
  async call(event, data) {
    if (!this.connected) {
      return failure("unavailable", "Not connected to the auction; reconnecting…");
    }
    try {
      return await this.socket.timeout(this.options.ackTimeoutMs).emitWithAck(event, data);
    } catch {
      return failure("unavailable", "No answer from the auction; please try again");
    }
  }

  // --- lots -----------------------------------------------------------------------------------

  isJoined(lotId) {
    return this.lots.has(lotId);
  }

  /** The ids of the lots joined (or to be joined once connected). */
  joinedLots() {
    return [...this.lots.keys()];
  }

  /** The `seq` of the last event applied to a joined lot (null before its snapshot). */
  seqOf(lotId) {
    const sub = this.lots.get(lotId);
    return sub ? sub.seq : null;
  }

  /** Join a lot's room; while disconnected the join is kept and made on (re)connect. */
  async join(lotId) {
    if (!this.lots.has(lotId)) {
      this.lots.set(lotId, { seq: null, syncing: false, buffer: [], timer: null });
    }
    if (!this.connected) return { ok: true, queued: true };
    const ack = await this.resync(lotId);
    if (ack && !ack.ok && ack.error.code !== "unavailable") this.lots.delete(lotId);
    return ack || { ok: true, queued: true };
  }

  async leave(lotId) {
    const sub = this.lots.get(lotId);
    if (sub) clearTimeout(sub.timer);
    this.lots.delete(lotId);
    return this.call("leave_lot", { lot_id: lotId });
  }

  forget(sub) {
    sub.buffer = [];
    sub.syncing = false;
    clearTimeout(sub.timer);
    sub.timer = null;
  }

  /** Join again for a fresh snapshot, then replay the events held back meanwhile. */
  async resync(lotId) {
    const sub = this.lots.get(lotId);
    if (!sub || sub.syncing) return null;
    sub.syncing = true;
    const ack = await this.call("join_lot", { lot_id: lotId });
    sub.syncing = false;
    if (this.lots.get(lotId) !== sub) return ack;
    if (!ack.ok) {
      sub.buffer = [];
      if (ack.error.code !== "unavailable") this.emit("join_failed", { lotId, error: ack.error });
      return ack;
    }
    sub.seq = ack.lot.seq;
    this.emit("snapshot", ack.lot);
    const held = sub.buffer.sort((a, b) => a.data.seq - b.data.seq);
    sub.buffer = [];
    let gap = false;
    for (const event of held) {
      if (event.data.seq === sub.seq + 1) this.apply(sub, event.name, event.data);
      else if (event.data.seq > sub.seq) gap = true;
    }
    if (gap) this.resyncLater(lotId, sub);
    return ack;
  }

  resyncLater(lotId, sub) {
    if (sub.timer) return;
    sub.timer = setTimeout(() => {
      sub.timer = null;
      this.resync(lotId);
    }, this.options.resyncAgainMs);
  }

  /**
   * A snapshot from elsewhere (a bid's ack, a REST read): applied when it is newer than
   * what a joined lot has, always for a lot not joined. Returns whether it was applied.
   */
  offerSnapshot(lot) {
    const sub = this.lots.get(lot.id);
    if (sub) {
      // While a join is under way its own snapshot is on the way and will be fresher.
      if (sub.syncing || sub.seq === null || lot.seq <= sub.seq) return false;
      sub.seq = lot.seq;
    }
    this.emit("snapshot", lot);
    return true;
  }

  lotEvent(name, data) {
    const sub = this.lots.get(data.lot_id);
    if (!sub) return;
    if (sub.syncing || sub.seq === null) {
      sub.buffer.push({ name, data });
      return;
    }
    if (data.seq <= sub.seq) return;
    if (data.seq > sub.seq + 1) {
      sub.buffer.push({ name, data });
      this.resync(data.lot_id);
      return;
    }
    this.apply(sub, name, data);
  }

  /** The server says events of this lot may have been lost: join again unless none were. */
  resyncHint(data) {
    this.emit("resync", data);
    const sub = this.lots.get(data.lot_id);
    if (!sub || sub.syncing) return;
    if (sub.seq !== null && data.seq > 0 && data.seq <= sub.seq) return;
    this.resync(data.lot_id);
  }

  apply(sub, name, data) {
    sub.seq = data.seq;
    this.emit(name, data);
    this.emit("lot_event", { name, data });
  }

  // --- bids and payments ----------------------------------------------------------------------

  /**
   * Place a bid. `requestId` defaults to a fresh one; pass the same one to retry a bid
   * yourself. A bid whose answer was lost (`unavailable`) is sent again with the same
   * id, up to `bidAttempts` times in all: the server places it at most once.
   * Returns the ack; on success its `lot` is offered as a snapshot.
   */
  async placeBid({ lotId, amount, maxAmount, requestId = newRequestId() }) {
    const payload = { lot_id: lotId, amount, request_id: requestId };
    if (maxAmount !== undefined && maxAmount !== null) payload.max_amount = maxAmount;
    return this.retried("place_bid", payload);
  }

  /**
   * Leave or raise a secret maximum: the house bids for you up to it. Retried like
   * `placeBid` (same request id, one effect). The ack has `max_amount` and `leading`.
   */
  async setMaxBid({ lotId, maxAmount, requestId = newRequestId() }) {
    return this.retried("set_max_bid", {
      lot_id: lotId,
      max_amount: maxAmount,
      request_id: requestId,
    });
  }

  /** Buy the lot at its `buy_now_price` (while offered). Retried like `placeBid`. */
  async buyNow({ lotId, requestId = newRequestId() }) {
    return this.retried("buy_now", { lot_id: lotId, request_id: requestId });
  }

  async retried(event, payload) {
    let ack = failure("unavailable", "Not connected to the auction; reconnecting…");
    for (let attempt = 1; attempt <= this.options.bidAttempts; attempt += 1) {
      if (attempt > 1) await sleep(this.options.bidRetryDelayMs * 2 ** (attempt - 2));
      ack = await this.call(event, payload);
      if (ack.ok || ack.error.code !== "unavailable") break;
    }
    if (ack.ok) this.offerSnapshot(ack.lot);
    return ack;
  }

  /** The payments awaiting the signed-in user (PaymentInfo, client secrets included). */
  async myPayments() {
    return this.call("my_payments", {});
  }
}
