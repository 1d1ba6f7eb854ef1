// The console's behaviour on top of its server-rendered pages: the UTC clock, the countdowns,
// flash announcements (banner, sound, title), acknowledging with a key, moving between items
// with the arrow keys, and the state of the live connection. Every word it shows comes from
// the page (data-* attributes on <body>), translated on the server like the rest. The long
// lists of a page keep themselves current (live-list.js).
import { liveLists } from "./live-list.js";

const body = document.body;
const words = body.dataset;
const baseTitle = document.title;
const MUTED = "parley-console-muted";
// The node's clock is the one deadlines are kept by: count from it, not from this desk's.
const skew = words.now ? Date.parse(words.now) - Date.now() : 0;
const announced = new Set();

const pad = (n) => String(n).padStart(2, "0");

function hms(ms) {
  const s = Math.floor(Math.abs(ms) / 1000);
  return `${pad(Math.floor(s / 3600))}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}`;
}

function tick() {
  const now = Date.now() + skew;
  const clock = document.getElementById("utc-clock");
  if (clock) {
    const iso = new Date(now).toISOString();
    clock.dateTime = iso;
    clock.textContent = `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`;
  }
  for (const countdown of document.querySelectorAll("[data-deadline]")) {
    const left = Date.parse(countdown.dataset.deadline) - now;
    countdown.textContent = hms(left);
    if (left <= 0) countdown.closest(".item")?.classList.add("overdue");
  }
}

const muted = () => localStorage.getItem(MUTED) === "1";

function showMute() {
  const button = document.getElementById("mute");
  if (!button) return;
  button.setAttribute("aria-pressed", String(muted()));
  button.textContent = muted() ? words.soundOff : words.soundOn;
}

function announce() {
  const flashes = [...document.querySelectorAll('.item[data-precedence="flash"]')];
  document.title = flashes.length ? `(${flashes.length}) ${words.flash} · ${baseTitle}` : baseTitle;
  const fresh = flashes.filter((item) => !announced.has(item.dataset.item));
  if (!fresh.length) return;
  for (const item of fresh) announced.add(item.dataset.item);
  const banner = document.getElementById("flash-banner");
  banner.querySelector(".what").textContent = fresh.map((item) => item.dataset.title).join(" · ");
  banner.hidden = false;
  if (!muted()) document.getElementById("flash-sound")?.play().catch(() => {});
}

function setLive(connected) {
  const state = document.getElementById("live-state");
  if (!state) return;
  state.textContent = connected ? words.live : words.disconnected;
  state.classList.toggle("disconnected", !connected);
}

// A dropped stream may mean the session ended (timed out, signed out elsewhere): then sign in.
async function checkSession() {
  try {
    const answer = await fetch("/console/live/session", { credentials: "same-origin" });
    if (answer.status === 401) location.assign(answer.headers.get("HX-Redirect") || "/console/login");
  } catch {
    // The node is unreachable: the stream keeps trying, the page says it is disconnected.
  }
}

const typing = (target) => target.closest("input, textarea, select, [contenteditable]");

function onKey(event) {
  if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
  const item = document.activeElement?.closest(".item, .entry");
  if (!item) return;
  // By the key's place, not its letter: "a" is also ф and ش on this desk's keyboards.
  if (event.code === "KeyA") {
    const form = item.querySelector("form.ack");
    if (form) {
      event.preventDefault();
      form.requestSubmit();
    }
  } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    const next = event.key === "ArrowDown" ? item.nextElementSibling : item.previousElementSibling;
    if (next?.tabIndex === 0) {
      event.preventDefault();
      next.focus();
    } else if (next?.matches(".more:not([hidden])")) {
      event.preventDefault();
      next.querySelector("button").click(); // past the last item held: the rest of the list
    }
  }
}

function changed() {
  tick();
  announce();
}

function start() {
  tick();
  setInterval(tick, 1000);
  showMute();
  announce();
  document.getElementById("mute")?.addEventListener("click", () => {
    localStorage.setItem(MUTED, muted() ? "0" : "1");
    showMute();
  });
  document.getElementById("flash-dismiss")?.addEventListener("click", () => {
    document.getElementById("flash-banner").hidden = true;
  });
  document.addEventListener("keydown", onKey);
  const lists = liveLists(changed);
  body.addEventListener("htmx:afterSwap", changed);
  body.addEventListener("htmx:sseOpen", (event) => {
    setLive(true);
    lists.listen(event.detail.source);
  });
  body.addEventListener("htmx:sseError", () => {
    setLive(false);
    checkSession();
  });
}

start();
