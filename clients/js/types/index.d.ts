// The client's own API (hand-written); the payloads come from events.d.ts, which is
// generated from the server's AsyncAPI document.
import type {
  ClientEvents,
  ErrorAck,
  ErrorBody,
  Lot,
  LotRoomEvents,
  MyPaymentsAck,
  PlaceBidAck,
  ServerEvents,
  UserRoomEvents,
} from "./events.js";

export * from "./events.js";

export type ConnectionState = "connecting" | "live" | "reconnecting" | "refused" | "unavailable" | "stopped";
/** The lot events kept in seq order (`resync` is a hint, handled by the client). */
export type LotEventName = Exclude<keyof LotRoomEvents, "resync">;
export type UserEventName = keyof UserRoomEvents;
export type LotEvent = { [N in LotEventName]: { name: N; data: LotRoomEvents[N] } }[LotEventName];

/** The client's own events, besides every server event by its name. */
export interface ClientOwnEvents {
  state: ConnectionState;
  connected: undefined;
  snapshot: Lot;
  lot_event: LotEvent;
  join_failed: { lotId: number; error: ErrorBody };
  refused: ErrorBody;
}
export type ListenableEvents = ServerEvents & ClientOwnEvents;

export interface AuctionClientOptions {
  /** Where the server is; default the page's origin. */
  url?: string;
  /** A bearer token; without one the client may watch but not bid. */
  token?: string | null;
  /** socket.io-client's `io`; default `globalThis.io` (the browser bundle). */
  io?: (...args: any[]) => any;
  /** Passed to io(); `auth` and `transports` are set by the client unless given here. */
  socketOptions?: Record<string, unknown>;
  ackTimeoutMs?: number;
  resyncAgainMs?: number;
  bidAttempts?: number;
  bidRetryDelayMs?: number;
  reconnectDelayMs?: number;
  reconnectDelayMaxMs?: number;
}

export declare const LOT_EVENTS: readonly LotEventName[];
export declare const USER_EVENTS: readonly UserEventName[];
export declare function newRequestId(): string;
export declare function failure(code: string, message: string): ErrorAck;

export declare class AuctionClient {
  constructor(options?: AuctionClientOptions);
  readonly state: ConnectionState;
  readonly connected: boolean;
  on<N extends keyof ListenableEvents>(name: N, listener: (data: ListenableEvents[N]) => void): () => void;
  connect(token?: string | null): this;
  disconnect(): void;
  call<E extends keyof ClientEvents>(event: E, data: ClientEvents[E]["payload"]): Promise<ClientEvents[E]["ack"]>;
  join(lotId: number): Promise<ClientEvents["join_lot"]["ack"] | { ok: true; queued: true }>;
  leave(lotId: number): Promise<ClientEvents["leave_lot"]["ack"]>;
  isJoined(lotId: number): boolean;
  joinedLots(): number[];
  seqOf(lotId: number): number | null;
  offerSnapshot(lot: Lot): boolean;
  placeBid(bid: {
    lotId: number;
    amount: number;
    maxAmount?: number | null;
    requestId?: string;
  }): Promise<PlaceBidAck | ErrorAck>;
  setMaxBid(bid: { lotId: number; maxAmount: number; requestId?: string }): Promise<
    ClientEvents["set_max_bid"]["ack"]
  >;
  buyNow(order: { lotId: number; requestId?: string }): Promise<ClientEvents["buy_now"]["ack"]>;
  myPayments(): Promise<MyPaymentsAck | ErrorAck>;
}
