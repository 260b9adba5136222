// The client against a real server: tests/test_js_client.py starts one and passes
// AUCTION_URL and AUCTION_JWT_SECRET. Run alone: `npm test` with both set.
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { closeAll, configured, connected, createLot, record, rest, someone, waitFor } from "./support.js";

const skip = configured() ? false : "AUCTION_URL and AUCTION_JWT_SECRET are not set (run through scripts/test)";

describe("AuctionClient against a real server", { skip }, () => {
  after(closeAll);

  test("a joined lot gets its snapshot, then every bid in seq order", async () => {
    const { lot } = await createLot();
    const watcher = await connected();
    const bidders = [await connected(someone("bob")), await connected(someone("bea"))];
    const snapshots = record(watcher, "snapshot");
    const ack = await watcher.join(lot.id);
    assert.equal(ack.ok, true);
    assert.equal(ack.lot.id, lot.id);
    assert.equal(snapshots.length, 1);
    assert.equal(watcher.seqOf(lot.id), ack.lot.seq);

    const events = record(watcher, "lot_event");
    const last = waitFor(watcher, "bid_placed", (event) => event.amount === 1200);
    for (const [turn, amount] of [1000, 1100, 1200].entries()) {
      const placed = await bidders[turn % 2].placeBid({ lotId: lot.id, amount });
      assert.equal(placed.ok, true, JSON.stringify(placed));
    }
    await last;
    const seqs = events.map((event) => event.data.seq);
    assert.deepEqual(seqs, [ack.lot.seq + 1, ack.lot.seq + 2, ack.lot.seq + 3]);
    assert.deepEqual(
      events.map((event) => event.data.amount),
      [1000, 1100, 1200],
    );
    assert.equal(watcher.seqOf(lot.id), ack.lot.seq + 3);
  });

  test("a bid sent again with its request id counts once", async () => {
    const { lot } = await createLot();
    const bidder = await connected(someone("alice"));
    const first = await bidder.placeBid({ lotId: lot.id, amount: 1500, requestId: "same-bid" });
    const again = await bidder.placeBid({ lotId: lot.id, amount: 1500, requestId: "same-bid" });
    assert.equal(first.ok, true);
    assert.equal(again.ok, true);
    assert.equal(again.bid.id, first.bid.id);
    const { body: bids } = await rest("GET", `/api/lots/${lot.id}/bids`);
    assert.equal((bids.items ?? bids).length, 1);
  });

  test("a maximum bids for its bidder, and buy-now closes a lot", async () => {
    const { lot } = await createLot();
    const alice = await connected(someone("amy"));
    const bob = await connected(someone("ben"));
    const left = await alice.placeBid({ lotId: lot.id, amount: 1000, maxAmount: 5000 });
    assert.equal(left.ok, true, JSON.stringify(left));
    assert.equal(left.max_amount, 5000);
    const answered = await bob.placeBid({ lotId: lot.id, amount: 2000 });
    assert.equal(answered.ok, true, JSON.stringify(answered));
    assert.equal(answered.leading, false);
    assert.equal(answered.lot.current_bid, 2100);
    const raised = await bob.setMaxBid({ lotId: lot.id, maxAmount: 9000 });
    assert.equal(raised.ok, true, JSON.stringify(raised));
    assert.equal(raised.leading, true);
    assert.equal(raised.lot.current_bid, 5100);
    const { lot: priced } = await createLot({ buy_now_price: 3000 });
    const bought = await alice.buyNow({ lotId: priced.id });
    assert.equal(bought.ok, true, JSON.stringify(bought));
    assert.equal(bought.lot.status, "PENDING_PAYMENT");
    assert.equal(bought.lot.hammer_price, 3000);
  });

  test("a bid whose answer is lost with the connection is retried and counts once", async () => {
    const { lot } = await createLot();
    const bidder = await connected(someone("carol"), { bidAttempts: 8, bidRetryDelayMs: 150 });
    const reconnected = waitFor(bidder, "connected", () => true, 10_000);
    const pending = bidder.placeBid({ lotId: lot.id, amount: 2000 });
    bidder.socket.io.engine.close(); // the transport drops under the bid
    const ack = await pending;
    await reconnected;
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const { body: bids } = await rest("GET", `/api/lots/${lot.id}/bids`);
    const list = bids.items ?? bids;
    assert.equal(list.length, 1);
    assert.equal(list[0].amount, 2000);
  });

  test("a gap in seq makes the client join again for a fresh snapshot", async () => {
    const { lot } = await createLot();
    const watcher = await connected();
    const bidder = await connected(someone("dave"));
    const joined = await watcher.join(lot.id);
    assert.equal(joined.ok, true);
    // The server stops sending this lot to the watcher without the client knowing: a bid is missed.
    await watcher.socket.emitWithAck("leave_lot", { lot_id: lot.id });
    assert.equal((await bidder.placeBid({ lotId: lot.id, amount: 1000 })).ok, true);
    await watcher.socket.emitWithAck("join_lot", { lot_id: lot.id });
    const events = record(watcher, "lot_event");
    const resynced = waitFor(watcher, "snapshot", (snapshot) => snapshot.seq >= joined.lot.seq + 2);
    const other = await connected(someone("dora"));
    assert.equal((await other.placeBid({ lotId: lot.id, amount: 1100 })).ok, true);
    const snapshot = await resynced;
    assert.equal(snapshot.current_bid, 1100);
    assert.equal(watcher.seqOf(lot.id), snapshot.seq);
    // Nothing was applied out of order: the event beyond the gap was not handed out.
    assert.deepEqual(events, []);
  });

  test("after a reconnect every joined lot is joined again and catches up", async () => {
    const { lot } = await createLot();
    // Slow to come back, so the bid below surely lands while it is away.
    const socketOptions = { transports: ["websocket"], reconnectionDelay: 1500, randomizationFactor: 0 };
    const watcher = await connected(null, { socketOptions });
    const bidder = await connected(someone("erin"));
    await watcher.join(lot.id);
    const states = record(watcher, "state");
    const caughtUp = waitFor(watcher, "snapshot", (snapshot) => snapshot.current_bid === 1000, 10_000);
    watcher.socket.io.engine.close();
    assert.equal((await bidder.placeBid({ lotId: lot.id, amount: 1000 })).ok, true);
    await caughtUp;
    assert.ok(states.includes("reconnecting"), states.join());
    assert.equal(watcher.state, "live");
    assert.ok(watcher.isJoined(lot.id));
  });

  test("a lot joined while offline is joined once connected", async () => {
    const { lot } = await createLot();
    const watcher = await connected();
    watcher.disconnect();
    assert.deepEqual(await watcher.join(lot.id), { ok: true, queued: true });
    const snapshot = waitFor(watcher, "snapshot", (data) => data.id === lot.id);
    watcher.connect();
    assert.equal((await snapshot).id, lot.id);
  });

  test("winning: outbid, the lot's close, payment_required and my_payments", async () => {
    const { lot, seller } = await createLot();
    const alice = await connected(someone("alice"));
    const bob = await connected(someone("bob"));
    await alice.join(lot.id);
    assert.equal((await alice.placeBid({ lotId: lot.id, amount: 1000 })).ok, true);
    const outbid = waitFor(alice, "outbid");
    assert.equal((await bob.placeBid({ lotId: lot.id, amount: 1100 })).ok, true);
    assert.equal((await outbid).min_next_bid, 1200);

    const locked = waitFor(alice, "lot_status", (event) => event.status === "PENDING_PAYMENT");
    const required = waitFor(bob, "payment_required", () => true, 10_000);
    const closed = await rest("POST", `/api/lots/${lot.id}/close`, { as: seller, role: "seller" });
    assert.equal(closed.status < 300, true, JSON.stringify(closed.body));
    assert.equal((await locked).lot_id, lot.id);
    const info = await required;
    assert.equal(info.lot_id, lot.id);
    assert.equal(info.amount, 1100);

    const mine = await bob.myPayments();
    assert.equal(mine.ok, true);
    assert.deepEqual(
      mine.payments.map((payment) => payment.payment_id),
      [info.payment_id],
    );
    assert.deepEqual((await alice.myPayments()).payments, []);
  });

  test("refusals come back as acks: a watcher's bid, a malformed bid, a bad token", async () => {
    const { lot } = await createLot();
    const watcher = await connected();
    const refused = await watcher.placeBid({ lotId: lot.id, amount: 1000 });
    assert.equal(refused.ok, false);
    assert.equal(refused.error.code, "unauthorized");

    const bidder = await connected(someone("frank"));
    const malformed = await bidder.placeBid({ lotId: String(lot.id), amount: 10.5, requestId: "" });
    assert.equal(malformed.error.code, "validation_error");
    assert.deepEqual(Object.keys(malformed.error.fields).sort(), ["amount", "lot_id", "request_id"]);

    const stranger = await connected(null, { token: "not-a-token" });
    assert.equal(stranger.state, "refused");
  });
});
