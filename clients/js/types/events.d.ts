// Generated from the server's AsyncAPI document (GET /api/asyncapi.json)
// by clients/js/scripts/generate-types.mjs. Do not edit: regenerate.
// Auction payment server: Socket.IO events, version 1.

export interface Bid {
  id: number;
  lot_id: number;
  /** An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  amount: number;
  /** The bidder's alias */
  bidder: string | null;
  /** Placed by the house for a standing maximum */
  auto: boolean;
  created_at: string;
}

export interface BidPlaced {
  lot_id: number;
  /** The lot's event counter after this event */
  seq: number;
  bid_id: number;
  amount: number;
  /** A stable pseudonym of the bidder on this lot */
  bidder: string;
  /** Placed by the house for a standing maximum */
  auto: boolean;
  bid_count: number;
  ends_at: string;
  min_next_bid: number;
  /** Whether the lot's (secret) reserve is now met */
  reserve_met: boolean;
  created_at: string;
}

export interface Breakdown {
  /** The winning bid. An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  hammer: number;
  /** The buyer's premium. An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  premium: number;
  /** hammer + premium (+ tax). An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  total: number;
  /** An invoice's tax (TAX_RATE_BPS); absent for a lot. An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  tax?: number | null;
}

/**
 * Buy the lot at its `buy_now_price`, offered until a bid meets the reserve. Needs a
 * token. The lot goes PENDING_PAYMENT for the caller at once.
 */
export interface BuyNow {
  lot_id: number;
  /** Chosen by the client (a UUID is ideal); a retry reuses it and places no second bid */
  request_id: string;
}

export interface BuyNowAck {
  ok: true;
  lot: Lot;
}

export interface ErrorAck {
  ok: false;
  error: ErrorBody;
}

/** `code` names the refusal (SPEC section 7). Some refusals carry more fields. */
export interface ErrorBody {
  code: string;
  message: string;
  /** With validation_error: each bad field (nested ones joined with dots) and its message */
  fields?: { [key: string]: string } | null;
  /** With bid_too_low */
  min_next_bid?: number | null;
}

/**
 * One image of a lot. Both URLs are on this server (`/media/...`) unless a remote store
 * is configured; the files never change, so they may be cached for a long time.
 */
export interface Image {
  id: string;
  /** The image, at most 2048 pixels on its long side */
  url: string;
  /** A thumbnail, at most 480 pixels */
  thumb_url: string;
  /** Of the image at `url`, in pixels */
  width: number;
  height: number;
  content_type: string;
}

/** Join the lot's room; the ack carries a fresh snapshot. */
export interface JoinLot {
  lot_id: number;
}

export interface JoinLotAck {
  ok: true;
  lot: Lot;
}

/** Leave the lot's room. */
export interface LeaveLot {
  lot_id: number;
}

export interface LeaveLotAck {
  ok: true;
}

/** A lot as everyone sees it. The reserve itself stays secret. */
export interface Lot {
  id: number;
  title: string;
  description: string;
  seller_id: string;
  /** ISO 4217, lowercase */
  currency: string;
  /** An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  starting_price: number;
  has_reserve: boolean;
  /** The reserve itself stays secret */
  reserve_met: boolean;
  /** Null: the standard increment table. An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  bid_increment: number | null;
  /** The highest bid placed. An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  current_bid: number | null;
  bid_count: number;
  /** The high bidder's alias, not their id */
  high_bidder: string | null;
  /** The price of the sale in force: the winning bid, then a next bidder's own bid after an expired window. Null before the close, and when the lot ends UNSOLD or CANCELED. An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  hammer_price: number | null;
  /** The alias of the bidder of the sale in force */
  winner: string | null;
  /** An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  min_next_bid: number;
  /** Null once a bid met the reserve, or the lot closed. An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  buy_now_price: number | null;
  starts_at: string;
  ends_at: string;
  status: LotStatus;
  /** The lot's event counter: the seq of its latest event */
  seq: number;
  closed_at: string | null;
  /** In display order; the first is the cover */
  images: Image[];
  /** The sale it is catalogued in, if any */
  sale_id: number | null;
  /** Its number in the sale (1, 2, ...) */
  lot_number: number | null;
}

/** A late bid pushed the end out (anti-sniping). */
export interface LotExtended {
  lot_id: number;
  /** The lot's event counter after this event */
  seq: number;
  ends_at: string;
}

export type LotStatus = "SCHEDULED" | "OPEN" | "PENDING_PAYMENT" | "SOLD" | "UNSOLD" | "CANCELED";

/** Every status change. PENDING_PAYMENT means bidding is locked. */
export interface LotStatusChanged {
  lot_id: number;
  /** The lot's event counter after this event */
  seq: number;
  status: LotStatus;
  /** starts_at, ends_at, closed_by_seller, closed_by_admin, no_bids, reserve_not_met, withdrawn, paid, offered_to_next_bidder, not_paid */
  reason: string;
  current_bid: number | null;
  high_bidder: string | null;
  /** The price of the sale in force, else null */
  hammer_price: number | null;
  /** The alias of the bidder of the sale in force */
  winner: string | null;
  ends_at: string;
  /** The hammer price, with SOLD */
  amount?: number | null;
  /** With offered_to_next_bidder: which offer this is */
  offer_number?: number | null;
  /** With buy_now_withdrawn and buy_now: buy-now is no longer offered */
  buy_now_price?: null;
}

/** The payments awaiting the caller (PaymentInfo, client secrets included). Needs a token. */
export type MyPayments = Record<string, never>;

export interface MyPaymentsAck {
  ok: true;
  payments: PaymentInfo[];
}

export interface Outbid {
  lot_id: number;
  /** The new highest bid */
  amount: number;
  your_amount: number;
  min_next_bid: number;
}

/** The bank asks for more (3-D Secure and the like): finish it with Stripe.js. */
export interface PaymentActionRequired {
  payment_id: number;
  lot_id: number | null;
  invoice_id?: number | null;
}

export interface PaymentExpired {
  payment_id: number;
  lot_id: number | null;
  invoice_id?: number | null;
  /** window_elapsed, attempts_exhausted or canceled_at_stripe */
  reason: string;
}

export interface PaymentFailed {
  payment_id: number;
  lot_id: number | null;
  invoice_id?: number | null;
  failure_code: string | null;
  failure_message: string | null;
  attempts_left: number;
}

/** What the buyer needs to pay with Stripe.js. Holds the client secret: the buyer's only. */
export interface PaymentInfo {
  payment_id: number;
  /** The lot; null when an invoice is paid */
  lot_id: number | null;
  /** The per_sale invoice this pays; null for one lot */
  invoice_id?: number | null;
  /** The invoice's lots; null for one lot */
  lines?: PaymentLine[] | null;
  status: PaymentStatus;
  /** The total to pay. An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  amount: number;
  /** ISO 4217, lowercase */
  currency: string;
  breakdown: Breakdown;
  /** For Stripe.js; sent to the buyer only */
  client_secret: string | null;
  publishable_key: string;
  expires_at: string | null;
  /** Which confirmation attempt this is, from 1 */
  attempt: number;
  attempts_left: number;
  /** 1 for the winner, 2 for the next bidder offered the lot... */
  offer_number: number;
  /** Why the card on file charged at the hammer (AUTO_CHARGE) handed over to the buyer: the bank wants them to authenticate, or the card could not be charged. Null when no card was tried */
  reason?: ("authentication_required" | "card_declined") | null;
}

/** A lot on the invoice a payment pays (per_sale sales). */
export interface PaymentLine {
  lot_id: number;
  /** The lot's number in the sale */
  lot_number: number | null;
  title: string;
  /** An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  hammer: number;
  /** An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  premium: number;
  /** An amount in the currency's minor unit (usd 12345 = $123.45, jpy 500 = ¥500) */
  tax: number;
}

export type PaymentStatus = "CREATING" | "REQUIRES_PAYMENT" | "REQUIRES_ACTION" | "PROCESSING" | "SUCCEEDED" | "FAILED" | "EXPIRED" | "CANCELED" | "PARTIALLY_REFUNDED" | "REFUNDED";

export interface PaymentSucceeded {
  payment_id: number;
  lot_id: number | null;
  invoice_id?: number | null;
  amount: number;
  currency: string;
  receipt_url: string;
}

/**
 * Bid on an open lot. Needs a token. With `max_amount` the house bids for the
 * caller up to it (secret: only the caller's own acks and views show it).
 */
export interface PlaceBid {
  lot_id: number;
  amount: number;
  /** Chosen by the client (a UUID is ideal); a retry reuses it and places no second bid */
  request_id: string;
  /** Your secret maximum, at least `amount` */
  max_amount?: number | null;
}

export interface PlaceBidAck {
  ok: true;
  /** The row answering your bid. Null only when your bid equalled a maximum left earlier (the earlier one stands at that amount) */
  bid: Bid | null;
  lot: Lot;
  /** Whether you lead after it (a maximum may answer at once) */
  leading: boolean;
  /** Your maximum, when you sent one */
  max_amount?: number | null;
}

/**
 * Events of this lot may have been lost (the link between server processes was
 * down): re-join the lot (`join_lot`) for a fresh snapshot, as on a `seq` gap.
 */
export interface Resync {
  lot_id: number;
  /** The lot's latest seq when this was sent (0 if it could not be read): a client that has seen it missed nothing, but re-joining is always safe */
  seq: number;
  reason: "redis_reconnected";
}

/**
 * Leave or raise (never lower) a secret maximum. Needs a token. For the leader it
 * only raises the maximum (not a self-outbid); anyone else bids the next minimum with
 * it behind.
 */
export interface SetMaxBid {
  lot_id: number;
  max_amount: number;
  /** Chosen by the client (a UUID is ideal); a retry reuses it and places no second bid */
  request_id: string;
}

export interface SetMaxBidAck {
  ok: true;
  lot: Lot;
  /** Your maximum (secret: only you see it) */
  max_amount: number;
  leading: boolean;
}

/** What a client sends (each event's payload) and what the server answers (its ack). */
export interface ClientEvents {
  /** Join a lot's room and get its snapshot; re-join on a seq gap */
  join_lot: { payload: JoinLot; ack: JoinLotAck | ErrorAck };
  /** Leave a lot's room */
  leave_lot: { payload: LeaveLot; ack: LeaveLotAck | ErrorAck };
  /** Bid; a retried request_id returns the first result and places no second bid */
  place_bid: { payload: PlaceBid; ack: PlaceBidAck | ErrorAck };
  /** Leave or raise a secret maximum; a retried request_id has one effect */
  set_max_bid: { payload: SetMaxBid; ack: SetMaxBidAck | ErrorAck };
  /** Buy at the buy-now price before a bid meets the reserve */
  buy_now: { payload: BuyNow; ack: BuyNowAck | ErrorAck };
  /** The payments awaiting the caller */
  my_payments: { payload: MyPayments; ack: MyPaymentsAck | ErrorAck };
}

/** What the server sends to a lot's room (`lot:{id}`), by event name. */
export interface LotRoomEvents {
  /** A bid was accepted */
  bid_placed: BidPlaced;
  /** The end moved later */
  lot_extended: LotExtended;
  /** The status changed */
  lot_status: LotStatusChanged;
  /** Events of this lot may have been missed: re-join it for a fresh snapshot */
  resync: Resync;
}

/** What the server sends to one user (`user:{sub}`), by event name. */
export interface UserRoomEvents {
  /** Someone bid more than you */
  outbid: Outbid;
  /** You won (or were offered) a lot: pay within the window. Sent again on every connect while it awaits you */
  payment_required: PaymentInfo;
  /** Your bank asks for authentication */
  payment_action_required: PaymentActionRequired;
  /** A card was declined; try again while attempts are left */
  payment_failed: PaymentFailed;
  /** Paid */
  payment_succeeded: PaymentSucceeded;
  /** The payment window ended unpaid */
  payment_expired: PaymentExpired;
}

/** Every event the server sends, by name. */
export type ServerEvents = LotRoomEvents & UserRoomEvents;
