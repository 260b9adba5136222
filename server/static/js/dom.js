// Small DOM helpers: element building, screen-reader announcements, live countdowns.

/** h("p", {class: "x", text: "hi"}, child...) — text is always set as text, never as HTML. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "text") el.textContent = value;
    else if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

let uid = 0;
export function uniqueId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** Say `text` through an aria-live region; `urgent` interrupts (outbid, payment due). */
export function announce(text, { urgent = false } = {}) {
  const region = document.getElementById(urgent ? "announce-urgent" : "announce-polite");
  region.textContent = "";
  // A fresh text node after a tick, so the same sentence twice is still read twice.
  setTimeout(() => {
    region.textContent = text;
  }, 50);
}

// The server's clock, estimated from the Date header of its answers.
let clockOffsetMs = 0;
export function noteServerDate(dateHeader) {
  // The header counts whole seconds: the server's clock is, on average, half a second on.
  const server = Date.parse(dateHeader || "");
  if (!Number.isNaN(server)) clockOffsetMs = server + 500 - Date.now();
}
export function serverNow() {
  return Date.now() + clockOffsetMs;
}

/** "1h 05m", "4m 09s", "42s". */
export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = total % 60;
  const pad = (n) => String(n).padStart(2, "0");
  if (hours > 0) return `${hours}h ${pad(minutes)}m`;
  if (minutes > 0) return `${minutes}m ${pad(seconds)}s`;
  return `${seconds}s`;
}

const timers = new Map();

/**
 * Keep `el` showing the time left until `deadline` (ISO text); `done` is shown at zero.
 * One shared ticker serves every countdown on the page.
 */
export function countdown(el, deadline, { done = "Time is up", suffix = "" } = {}) {
  timers.set(el, { at: Date.parse(deadline), done, suffix });
  el.setAttribute("datetime", deadline);
  paint(el, timers.get(el));
}

/** Stop the countdown in `el` and show `text` instead. */
export function stopCountdown(el, text) {
  timers.delete(el);
  el.removeAttribute("datetime");
  el.textContent = text;
  el.dataset.urgent = "false";
}

function paint(el, timer) {
  const left = timer.at - serverNow();
  el.textContent = left > 0 ? formatDuration(left) + timer.suffix : timer.done;
  el.dataset.urgent = left > 0 && left < 60_000 ? "true" : "false";
}

setInterval(() => {
  for (const [el, timer] of timers) {
    if (!el.isConnected) timers.delete(el);
    else paint(el, timer);
  }
}, 1000);
