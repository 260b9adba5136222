// Driven by tests/test_js_client.py, which makes the server send `resync` hints (only a
// Redis outage makes them otherwise): joins LOT_ID as a watcher and prints, one JSON
// line each, what the client hands out (the join, every `resync`, every snapshot) and,
// after the join, every event it sends, at the moment it sends it: a re-join caused by
// a hint is printed right after that hint. Stops when its standard input closes.
import { connected, closeAll } from "./support.js";

const lotId = Number(process.env.LOT_ID);
const client = await connected();
const say = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
client.on("resync", (data) => say({ resync: data.seq }));
client.on("snapshot", (lot) => say({ snapshot: lot.seq }));
const ack = await client.join(lotId);
say({ joined: ack.ok ? ack.lot.seq : null });
client.socket.onAnyOutgoing((event) => say({ sent: event }));
process.stdin.resume();
process.stdin.on("end", () => {
  closeAll();
  process.exit(0);
});
