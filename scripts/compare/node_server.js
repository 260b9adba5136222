// Node socket.io 4 server for `scripts/bench --compare`: the same events, no database.
//
//   node node_server.js PORT   (socket.io resolved from NODE_PATH, installed by the bench)
//
// join_lot joins `lot:<id>`; place_bid broadcasts a bid_placed with the same fields
// and value formats as ours to the lot's room, then acks. Defaults otherwise (no
// per-message deflate).
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2]);
const server = http.createServer((req, res) => {
  res.writeHead(200, { "content-type": "text/plain" });
  res.end("ok");
});
const io = new Server(server, { pingInterval: 20000, pingTimeout: 20000 });
let bids = 0;

// Python's datetime.isoformat() of an aware UTC time: microseconds and "+00:00".
function isoformat(ms) {
  return new Date(ms).toISOString().replace("Z", "000+00:00");
}

// "Bidder " and six upper-case hex digits, like this server's pseudonyms.
function alias(id) {
  let hash = 0;
  for (const c of id) hash = (hash * 31 + c.charCodeAt(0)) >>> 0;
  return "Bidder " + (hash & 0xffffff).toString(16).toUpperCase().padStart(6, "0");
}

const seqs = new Map();

io.on("connection", (socket) => {
  socket.on("join_lot", (payload, ack) => {
    socket.join(`lot:${payload.lot_id}`);
    ack({ ok: true, lot: { id: payload.lot_id, seq: seqs.get(payload.lot_id) || 0 } });
  });
  socket.on("place_bid", (payload, ack) => {
    bids += 1;
    const seq = (seqs.get(payload.lot_id) || 0) + 1;
    seqs.set(payload.lot_id, seq);
    // The same fields, order and value formats as this server's bid_placed (SPEC 7), so
    // every server sends frames of the same length to the same client driver.
    const event = {
      lot_id: payload.lot_id, seq, bid_id: bids, amount: payload.amount,
      bidder: alias(socket.id), auto: false, bid_count: seq,
      ends_at: isoformat(Date.now() + 3600000), min_next_bid: payload.amount + 1,
      reserve_met: true, created_at: isoformat(Date.now()),
    };
    io.to(`lot:${payload.lot_id}`).emit("bid_placed", event);
    ack({ ok: true, bid: { id: bids, lot_id: payload.lot_id, amount: payload.amount } });
  });
});
server.listen(port, "127.0.0.1");
