// The catalogue (/): sales and their lots, filters, search, live prices and results.
import { api } from "./api.js";
import { countdown, h, serverNow, stopCountdown } from "./dom.js";
import { STATUS_TEXT } from "./lot_view.js";
import { formatMoney } from "./money.js";
import { $, startPage } from "./page.js";

const POLL_MS = 15_000;
/** "Closing soon": open lots that end within this long. */
export const CLOSING_SOON_MS = 60 * 60_000;
const MAX_PAGES = 5;
const RESULTS = new Set(["PENDING_PAYMENT", "SOLD", "UNSOLD"]);

const FILTERS = {
  all: (lot) => lot.status !== "CANCELED",
  open: (lot) => lot.status === "OPEN",
  closing: (lot) => lot.status === "OPEN" && Date.parse(lot.ends_at) - serverNow() <= CLOSING_SOON_MS,
  results: (lot) => RESULTS.has(lot.status),
};
const EMPTY_TEXT = {
  all: "There are no lots in the catalogue yet.",
  open: "No lots are open right now.",
  closing: "No open lot closes within the next hour.",
  results: "No lot has closed yet, so there are no results.",
};

/** What a lot's tile says about its price, by status. */
export function priceLine(lot) {
  const money = (amount) => formatMoney(amount, lot.currency);
  switch (lot.status) {
    case "OPEN":
      return lot.current_bid === null ? `Starting bid ${money(lot.starting_price)}` : `Current bid ${money(lot.current_bid)}`;
    case "SCHEDULED":
      return `Starting bid ${money(lot.starting_price)}`;
    case "PENDING_PAYMENT":
      return `Hammer ${money(lot.hammer_price ?? lot.current_bid)}, awaiting payment`;
    case "SOLD":
      return `Sold for ${money(lot.hammer_price ?? lot.current_bid)}`;
    case "UNSOLD":
      return "Not sold";
    default:
      return "Withdrawn";
  }
}

class Catalogue {
  constructor(live) {
    this.live = live;
    this.lots = new Map();
    this.sales = new Map();
    this.tiles = new Map();
    const params = new URLSearchParams(location.search);
    this.show = FILTERS[params.get("show")] ? params.get("show") : "all";
    this.query = params.get("q") || "";
    $("search").value = this.query;
    for (const radio of document.querySelectorAll('input[name="show"]')) {
      radio.checked = radio.value === this.show;
      radio.addEventListener("change", () => {
        this.show = radio.value;
        this.changed();
      });
    }
    $("search").addEventListener("input", () => {
      this.query = $("search").value.trim();
      this.changed();
      // Beyond the lots already here, ask the server (the catalogue may be larger).
      clearTimeout(this.searchTimer);
      if (this.query) this.searchTimer = setTimeout(() => this.search(this.query), 300);
    });
    $("filters").addEventListener("submit", (event) => event.preventDefault());
  }

  changed() {
    const params = new URLSearchParams();
    if (this.show !== "all") params.set("show", this.show);
    if (this.query) params.set("q", this.query);
    history.replaceState(null, "", params.toString() ? `/?${params}` : "/");
    this.render();
  }

  async load() {
    const lots = [];
    let cursor = null;
    for (let page = 0; page < MAX_PAGES; page += 1) {
      const answer = await api("GET", `/api/lots?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
      lots.push(...answer.items);
      cursor = answer.next_cursor;
      if (!cursor) break;
    }
    try {
      const sales = await api("GET", "/api/sales");
      for (const sale of sales.items || []) this.sales.set(sale.id, sale);
    } catch {
      // No sales (yet): lots are listed on their own.
    }
    for (const lot of lots) {
      const known = this.lots.get(lot.id);
      if (!known || lot.seq >= known.seq) this.lots.set(lot.id, lot);
      if (lot.status === "OPEN" && !this.live.isJoined(lot.id)) this.live.join(lot.id);
    }
    this.render();
  }

  async search(query) {
    try {
      const answer = await api("GET", `/api/lots?q=${encodeURIComponent(query)}&limit=200`);
      if (query !== this.query) return;
      for (const lot of answer.items) {
        const known = this.lots.get(lot.id);
        if (!known || lot.seq >= known.seq) this.lots.set(lot.id, lot);
      }
      this.render();
    } catch {
      // The lots already loaded were searched; the next refresh tries again.
    }
  }

  snapshot(lot) {
    const known = this.lots.get(lot.id);
    if (known && lot.seq < known.seq) return;
    this.lots.set(lot.id, { ...(known || {}), ...lot });
    this.update(lot.id);
  }

  apply(name, data) {
    const lot = this.lots.get(data.lot_id);
    if (!lot) return;
    if (name === "bid_placed") {
      Object.assign(lot, { current_bid: data.amount, bid_count: data.bid_count, ends_at: data.ends_at });
    } else if (name === "lot_extended") {
      lot.ends_at = data.ends_at;
    } else if (name === "lot_status") {
      Object.assign(lot, { status: data.status, hammer_price: data.hammer_price ?? null });
      if (data.status !== "OPEN") this.live.leave(lot.id);
    }
    lot.seq = data.seq;
    this.update(lot.id);
  }

  matches(lot) {
    return FILTERS[this.show](lot) && (!this.query || lot.title.toLowerCase().includes(this.query.toLowerCase()));
  }

  /** One tile changed: refresh it in place (its status may move it out of the filter). */
  update(lotId) {
    const tile = this.tiles.get(lotId);
    const lot = this.lots.get(lotId);
    if (tile && lot && this.matches(lot)) fillTile(tile, lot);
    else this.render();
  }

  groups(lots) {
    const bySale = new Map();
    for (const lot of lots) {
      const key = lot.sale_id && this.sales.has(lot.sale_id) ? lot.sale_id : null;
      if (!bySale.has(key)) bySale.set(key, []);
      bySale.get(key).push(lot);
    }
    const order = (a, b) =>
      (a.lot_number ?? Infinity) - (b.lot_number ?? Infinity) || Date.parse(a.ends_at) - Date.parse(b.ends_at) || a.id - b.id;
    return [...bySale.entries()]
      .map(([saleId, items]) => ({ sale: this.sales.get(saleId) || null, items: items.sort(order) }))
      .sort((a, b) => (a.sale === null) - (b.sale === null) || (a.sale && b.sale ? a.sale.id - b.sale.id : 0));
  }

  render() {
    const shown = [...this.lots.values()].filter((lot) => this.matches(lot));
    const groups = this.groups(shown);
    // The same lots in the same places: refresh the tiles in place, so keyboard focus and
    // the reading position survive the periodic refresh.
    const layout = JSON.stringify(groups.map(({ sale, items }) => [sale && sale.id, items.map((lot) => lot.id)]));
    if (layout === this.layout) {
      for (const lot of shown) fillTile(this.tiles.get(lot.id), lot);
      return;
    }
    this.layout = layout;
    const focused = document.activeElement && document.activeElement.closest("article.tile");
    const focusedId = focused ? Number(focused.dataset.lotId) : null;
    const root = $("catalogue");
    root.replaceChildren();
    this.tiles.clear();
    for (const { sale, items } of groups) {
      const headingId = `sale-${sale ? sale.id : "none"}`;
      const list = h("ul", { class: "catalogue-list" });
      for (const lot of items) {
        const tile = buildTile(lot);
        this.tiles.set(lot.id, tile);
        list.append(h("li", {}, tile.root));
      }
      root.append(
        h(
          "section",
          { class: "sale", "aria-labelledby": headingId },
          h(
            "div",
            { class: "sale-head" },
            h("h2", { id: headingId, text: sale ? sale.title : this.sales.size ? "Other lots" : "Lots" }),
            sale && sale.lots_close_from
              ? h("p", { class: "muted", text: `Lots close one after another from ${new Date(sale.lots_close_from).toLocaleString()}` })
              : null,
          ),
          list,
        ),
      );
    }
    const empty = $("empty");
    empty.hidden = shown.length > 0;
    empty.replaceChildren();
    if (!shown.length) {
      empty.append(this.query ? `No lot title contains “${this.query}”.` : EMPTY_TEXT[this.show]);
      const results = [...this.lots.values()].some((lot) => RESULTS.has(lot.status));
      if (this.show === "open" && results && !this.query) {
        empty.append(" ", h("a", { href: "/?show=results", text: "See the results of closed lots" }), ".");
      }
    }
    if (focusedId !== null && this.tiles.has(focusedId)) this.tiles.get(focusedId).link.focus();
    const count = shown.length;
    $("summary").textContent = `${count} ${count === 1 ? "lot" : "lots"} shown.`;
  }
}

function buildTile(lot) {
  const tile = {};
  tile.photo = h("div", { class: "tile-photo" });
  tile.number = h("p", { class: "lot-number" });
  tile.link = h("a", { href: `/lots/${lot.id}` });
  tile.badge = h("span", { class: "badge" });
  tile.price = h("p", { class: "price" });
  tile.timer = h("time", { role: "timer" });
  tile.bids = h("span");
  tile.root = h(
    "article",
    { class: "tile", "data-lot-id": lot.id },
    tile.photo,
    h(
      "div",
      { class: "tile-body" },
      h("div", { class: "lot-head" }, tile.number, tile.badge),
      h("h3", {}, tile.link),
      tile.price,
      h("p", { class: "tile-meta" }, tile.bids, tile.timer),
    ),
  );
  fillTile(tile, lot);
  return tile;
}

function fillTile(tile, lot) {
  tile.root.dataset.status = lot.status;
  const cover = (lot.images || [])[0];
  if (cover && !tile.photo.querySelector("img")) {
    tile.photo.replaceChildren(h("img", { src: cover.thumb_url || cover.url, alt: "", loading: "lazy" }));
  } else if (!cover) {
    tile.photo.textContent = "No photo";
  }
  tile.number.textContent = lot.lot_number ? `Lot ${lot.lot_number}` : `Lot #${lot.id}`;
  tile.link.textContent = lot.title;
  tile.badge.textContent = STATUS_TEXT[lot.status] || lot.status;
  tile.price.textContent = priceLine(lot);
  tile.bids.textContent = lot.bid_count === 1 ? "1 bid" : `${lot.bid_count} bids`;
  if (lot.status === "OPEN") countdown(tile.timer, lot.ends_at, { done: "Closing…", suffix: " left" });
  else if (lot.status === "SCHEDULED") countdown(tile.timer, lot.starts_at, { done: "Opening…", suffix: " to start" });
  else stopCountdown(tile.timer, lot.closed_at ? `Closed ${new Date(lot.closed_at).toLocaleDateString()}` : "Closed");
}

async function start() {
  let catalogue = null;
  const started = await startPage({});
  if (!started) return;
  const { session, live } = started;
  catalogue = new Catalogue(live);
  live.on("snapshot", (lot) => catalogue.snapshot(lot));
  live.on("lot_event", ({ name, data }) => catalogue.apply(name, data));
  const refresh = async () => {
    try {
      await catalogue.load();
    } catch (error) {
      $("summary").textContent = `The catalogue could not be refreshed: ${error.message}`;
    }
  };
  await refresh();
  setInterval(refresh, POLL_MS);
  session.restore();
}

start();
