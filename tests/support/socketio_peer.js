// A test peer on the official JavaScript client (socket.io-client from node_modules).
//
//   node socketio_peer.js URL LOT_ID TRANSPORT COUNT
//
// Connects with one transport ("websocket" or "polling"), joins the lot, prints
// `{"ready": ...}` once joined, then one JSON line per lot event received, in
// arrival order, and exits after COUNT events (or after 30 s).
const path = require("path");
const { io } = require(path.resolve(process.argv[6] || "node_modules", "socket.io-client"));

const [url, lotId, transport, count] = process.argv.slice(2);
const wanted = Number(count);
let received = 0;

const socket = io(url, { transports: [transport], reconnection: false, timeout: 10000 });
const done = (code) => {
  socket.close();
  process.exit(code);
};
setTimeout(() => {
  console.log(JSON.stringify({ timeout: received }));
  done(1);
}, 30000);

for (const event of ["bid_placed", "lot_extended", "lot_status"]) {
  socket.on(event, (data) => {
    console.log(JSON.stringify({ event, data }));
    received += 1;
    if (received >= wanted) done(0);
  });
}
socket.on("connect", () => {
  socket.emit("join_lot", { lot_id: Number(lotId) }, (ack) => {
    console.log(JSON.stringify({ ready: ack.ok, transport: socket.io.engine.transport.name }));
  });
});
socket.on("connect_error", (error) => {
  console.log(JSON.stringify({ error: String(error) }));
  done(2);
});
