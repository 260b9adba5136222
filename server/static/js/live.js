// The Socket.IO connection: reconnection, acks that always answer, and per-lot `seq` tracking.
//
// Each joined lot remembers the last `seq` it applied. An event at seq+1 is applied;
// an older one was already seen (joining can deliver one twice); a newer one means
// events were missed, so the lot is joined again for a fresh snapshot and the events
// that arrive meanwhile are held back and replayed after it. An event still beyond a
// gap after that is dropped and one more re-join follows a little later, so a broken
// stream costs a re-join every few seconds at most, never a loop.

const LOT_EVENTS = ["bid_placed", "lot_extended", "lot_status"];
const USER_EVENTS = [
  "outbid",
  "payment_required",
  "payment_action_required",
  "payment_failed",
  "payment_succeeded",
  "payment_expired",
];
const ACK_TIMEOUT_MS = 10_000;
const RESYNC_AGAIN_MS = 2_000;

function failure(code, message) {
  return { ok: false, error: { code, message } };
}

export class Live {
  /**
   * handlers: onState(state), onSnapshot(lot), onLotEvent(name, data), onUserEvent(name, data),
   * onConnected(), onRefused(error), onJoinFailed(lotId, error)
   */
  constructor(handlers) {
    this.handlers = handlers;
    this.socket = null;
    this.token = null;
    this.lots = new Map();
    this.retryDelayMs = 1000;
    this.retryTimer = null;
  }

  get connected() {
    return Boolean(this.socket && this.socket.connected);
  }

  start(token) {
    this.stop();
    this.token = token;
    if (typeof window.io !== "function") {
      this.handlers.onState("unavailable");
      return;
    }
    const socket = window.io({
      auth: (send) => send(this.token ? { token: this.token } : {}),
      transports: ["websocket", "polling"],
      reconnectionDelayMax: 5000,
    });
    this.socket = socket;
    this.handlers.onState("connecting");
    socket.on("connect", () => this.connectedNow());
    socket.on("disconnect", (reason) => this.disconnected(reason));
    socket.on("connect_error", (error) => this.connectFailed(error));
    for (const name of LOT_EVENTS) socket.on(name, (data) => this.lotEvent(name, data));
    for (const name of USER_EVENTS) socket.on(name, (data) => this.handlers.onUserEvent(name, data));
  }

  stop() {
    clearTimeout(this.retryTimer);
    if (this.socket) {
      this.socket.removeAllListeners();
      this.socket.disconnect();
      this.socket = null;
    }
  }

  connectedNow() {
    this.retryDelayMs = 1000;
    this.handlers.onState("live");
    for (const lotId of this.lots.keys()) this.resync(lotId);
    this.handlers.onConnected();
  }

  disconnected(reason) {
    if (reason === "io client disconnect") return;
    for (const sub of this.lots.values()) sub.buffer = [];
    this.handlers.onState("reconnecting");
    // The server let us go (a restart or deploy): the client does not come back by itself.
    if (reason === "io server disconnect") this.reconnectSoon();
  }

  connectFailed(error) {
    const data = error && error.data;
    if (data && data.code === "unauthorized") {
      this.handlers.onRefused(data);
      return;
    }
    this.handlers.onState("reconnecting");
    if (this.socket && !this.socket.active) this.reconnectSoon();
  }

  reconnectSoon() {
    clearTimeout(this.retryTimer);
    const delay = this.retryDelayMs * (0.75 + Math.random() / 2);
    this.retryDelayMs = Math.min(this.retryDelayMs * 2, 10_000);
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
      return await this.socket.timeout(ACK_TIMEOUT_MS).emitWithAck(event, data);
    } catch {
      return failure("unavailable", "No answer from the auction; please try again");
    }
  }

  isJoined(lotId) {
    return this.lots.has(lotId);
  }

  /** Join a lot's room; while disconnected the join is kept and made on (re)connect. */
  async join(lotId) {
    this.lots.set(lotId, { seq: null, syncing: false, buffer: [] });
    if (!this.connected) return { ok: true, queued: true };
    const ack = await this.resync(lotId);
    if (ack && !ack.ok && ack.error.code !== "unavailable") this.lots.delete(lotId);
    return ack || { ok: true, queued: true };
  }

  async leave(lotId) {
    this.lots.delete(lotId);
    return this.call("leave_lot", { lot_id: lotId });
  }

  async resync(lotId) {
    const sub = this.lots.get(lotId);
    if (!sub || sub.syncing) return null;
    sub.syncing = true;
    const ack = await this.call("join_lot", { lot_id: lotId });
    sub.syncing = false;
    if (this.lots.get(lotId) !== sub) return ack;
    if (!ack.ok) {
      sub.buffer = [];
      if (ack.error.code !== "unavailable") this.handlers.onJoinFailed(lotId, ack.error);
      return ack;
    }
    sub.seq = ack.lot.seq;
    this.handlers.onSnapshot(ack.lot);
    const held = sub.buffer.sort((a, b) => a[1].seq - b[1].seq);
    sub.buffer = [];
    let gap = false;
    for (const [name, data] of held) {
      if (data.seq === sub.seq + 1) {
        sub.seq = data.seq;
        this.handlers.onLotEvent(name, data);
      } else if (data.seq > sub.seq) {
        gap = true;
      }
    }
    if (gap) this.resyncLater(lotId, sub);
    return ack;
  }

  resyncLater(lotId, sub) {
    if (sub.timer) return;
    sub.timer = setTimeout(() => {
      sub.timer = null;
      this.resync(lotId);
    }, RESYNC_AGAIN_MS);
  }

  /** A snapshot from elsewhere (a bid's ack, a REST read): newer than what we have wins. */
  offerSnapshot(lot) {
    const sub = this.lots.get(lot.id);
    if (sub) {
      // While a join is under way its own snapshot is on the way and will be fresher.
      if (sub.syncing || sub.seq === null || lot.seq <= sub.seq) return false;
      sub.seq = lot.seq;
    }
    this.handlers.onSnapshot(lot);
    return true;
  }

  lotEvent(name, data) {
    const sub = this.lots.get(data.lot_id);
    if (!sub) return;
    if (sub.syncing || sub.seq === null) {
      sub.buffer.push([name, data]);
      return;
    }
    if (data.seq <= sub.seq) return;
    if (data.seq > sub.seq + 1) {
      sub.buffer.push([name, data]);
      this.resync(data.lot_id);
      return;
    }
    sub.seq = data.seq;
    this.handlers.onLotEvent(name, data);
  }
}
