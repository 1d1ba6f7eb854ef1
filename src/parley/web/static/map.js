// The situation map (/console/map): the areas of live notices and declared presences, this
// node's protected sites and the deconfliction alerts with their overlaps, as they stand at
// the time the slider chooses. A node may hold hundreds of thousands of sites: they are
// clustered (supercluster) and only the clusters and sites in view are drawn, on a canvas.
// The live stream's "map" message, and every reconnection, fetch the situation again; the
// sites are fetched once. Every word comes from the page, translated on the server.
import { createMap } from "./basemap.js";

const SUPERCLUSTER = "/console/static/vendor/supercluster/supercluster.min.js";
const STEP_MS = 15 * 60 * 1000; // one step of the slider
const CLUSTER_RADIUS_PX = 60;
const OWN = "#1f5fbf";
// This node's party in blue; the others in colours far from it.
const PARTIES = ["#b03a2e", "#7d3c98", "#b9770e", "#117a65", "#6e2c00", "#a93226", "#616a6b"];
const SEVERITIES = { critical: "#b00020", high: "#c25400", medium: "#9a7d0a", low: "#5d6d7e" };
const RANK = Object.fromEntries(Object.keys(SEVERITIES).map((severity, rank) => [severity, rank]));
const CATEGORIES = {
  refinery: "#6c3483",
  pipeline: "#a04000",
  power_plant: "#d4ac0d",
  substation: "#b7950b",
  nuclear_plant: "#cb4335",
  dam: "#2874a6",
  hospital: "#e74c3c",
  school: "#27ae60",
  shelter: "#16a085",
  water_supply: "#5dade2",
  religious_site: "#8e44ad",
  cultural_heritage: "#935116",
  humanitarian_office: "#f39c12",
  other: "#7f8c8d",
};

const element = document.getElementById("situation-map");
const words = JSON.parse(element.dataset.words);
const own = element.dataset.party;
const slider = document.getElementById("map-time");
const shownTime = document.getElementById("map-time-shown");
const alertList = document.getElementById("map-alerts");
const status = document.getElementById("map-status");
// The node's clock is the one windows are kept by: count from it, not from this desk's.
const skew = document.body.dataset.now ? Date.parse(document.body.dataset.now) - Date.now() : 0;

let L = null;
let map = null;
let layers = null;
let situation = { items: [], alerts: [] };
let sites = null; // {categories, terms, sites: [[lon, lat, category, terms, name], ...]}
let clusters = null;
let clusteredAt = null; // the time the clusters hold the sites of, or "always"

// -- small helpers ---------------------------------------------------------------------------
// The slider reaches from now into the coming days: its time moves on with the clock.
const chosenTime = () => Date.now() + skew + Number(slider.value) * STEP_MS;
const utc = (ms) => {
  const iso = new Date(ms).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}Z`;
};
const when = (text, fallback) => (text ? utc(Date.parse(text)) : fallback);
const activeAt = (start, end, t) => (!start || Date.parse(start) <= t) && (!end || t < Date.parse(end));
const number = (value) => value.toLocaleString(document.documentElement.lang, { maximumFractionDigits: 1 });
const format = (template, values) => template.replace(/\{(\w+)\}/g, (_, name) => values[name]);

function partyColour(party) {
  if (party === own) return OWN;
  let hash = 0;
  for (const char of party) hash = (hash * 31 + char.codePointAt(0)) >>> 0;
  return PARTIES[hash % PARTIES.length];
}

function make(tag, attributes = {}, ...children) {
  const made = Object.assign(document.createElement(tag), attributes);
  made.append(...children);
  return made;
}

// Ids and parties stay in their own direction inside Arabic text.
const isolated = (text) => make("bdi", {}, text);
const line = (...children) => make("p", {}, ...children);

function windowLine(start, end) {
  return line(`${words.from} `, isolated(when(start, words.no_start)), ` · ${words.until} `, isolated(when(end, words.open_ended)));
}

// -- fetching --------------------------------------------------------------------------------
async function fetchJson(url) {
  const answer = await fetch(url, { credentials: "same-origin" });
  if (answer.status === 401) {
    location.assign(answer.headers.get("HX-Redirect") || "/console/login");
    throw new Error("signed out");
  }
  if (!answer.ok) throw new Error(`${url}: ${answer.status}`);
  return answer.json();
}

let fetching = null;
let again = false;

// One fetch at a time; news arriving meanwhile makes one more after it.
async function refresh() {
  if (fetching) {
    again = true;
    return fetching;
  }
  fetching = (async () => {
    do {
      again = false;
      try {
        situation = await fetchJson("/console/live/map/situation");
        status.textContent = "";
        drawSituation();
      } catch (error) {
        status.textContent = words.unreadable;
        console.warn(error);
      }
    } while (again);
    fetching = null;
  })();
  return fetching;
}

// -- protected sites -------------------------------------------------------------------------
let Cluster = null;
const shownSites = new Map(); // cluster or site key -> its marker

// A circle with its count written in it, on the same canvas as the sites.
const clusterClass = () =>
  L.CircleMarker.extend({
    _updatePath() {
      L.CircleMarker.prototype._updatePath.call(this);
      const renderer = this._renderer;
      const context = renderer._ctx;
      if (!renderer._drawing || !context || this._empty()) return;
      context.fillStyle = "#fff";
      context.font = "600 11px system-ui, sans-serif";
      context.textAlign = "center";
      context.textBaseline = "middle";
      context.fillText(this.options.label, this._point.x, this._point.y);
    },
  });

function sitesTimed() {
  return sites.terms.some((terms) => terms.start || terms.end);
}

// The clusters of the sites in force at ``t``; rebuilt only when some site has a window.
function cluster(t) {
  const timed = sitesTimed();
  if (clusters && (!timed || clusteredAt === t)) return;
  const inForce = sites.terms.map((terms) => activeAt(terms.start, terms.end, t));
  const parties = [...new Set(sites.terms.map((terms) => terms.party))];
  const partyBit = sites.terms.map((terms) => 2 ** Math.min(parties.indexOf(terms.party), 30));
  const points = [];
  sites.sites.forEach((row, i) => {
    if (inForce[row[3]]) {
      points.push({ type: "Feature", geometry: { type: "Point", coordinates: [row[0], row[1]] }, properties: { i } });
    }
  });
  clusters = new window.Supercluster({
    radius: CLUSTER_RADIUS_PX,
    maxZoom: 15,
    map: (properties) => ({ parties: partyBit[sites.sites[properties.i][3]] }),
    reduce: (total, properties) => {
      total.parties |= properties.parties;
    },
  });
  clusters.load(points);
  clusters.parties = parties;
  layers.sites.clearLayers();
  shownSites.clear();
  clusteredAt = timed ? t : "always";
}

function clusterColour(bits) {
  const index = clusters.parties.findIndex((_, i) => 2 ** Math.min(i, 30) === bits);
  return index < 0 ? "#4d5656" : partyColour(clusters.parties[index]);
}

const count = (n) => (n < 1000 ? String(n) : `${Math.round(n / 1000)}k`);

function sitePopup(row) {
  const [, , category, termsIndex, name] = row;
  const terms = sites.terms[termsIndex];
  const kind = sites.categories[category];
  const lines = [
    make("strong", {}, isolated(name)),
    line(words.categories[kind] || kind),
    line(`${words.party}: `, isolated(terms.party)),
  ];
  if (terms.agreement) lines.push(line(`${words.agreement}: `, isolated(terms.agreement)));
  if (terms.start || terms.end) lines.push(windowLine(terms.start, terms.end));
  return make("div", {}, ...lines);
}

// A cluster zooms in to its sites; one that cannot come apart (sites at one place) says
// how many it holds.
function clusterMarker(found) {
  const [lon, lat] = found.geometry.coordinates;
  const properties = found.properties;
  const n = properties.point_count;
  Cluster ??= clusterClass();
  const marker = new Cluster([lat, lon], {
    renderer: layers.siteRenderer,
    pane: "sites",
    radius: 11 + Math.min(12, 4 * Math.log10(n)),
    label: count(n),
    color: "#fff",
    weight: 2,
    fillColor: clusterColour(properties.parties),
    fillOpacity: 0.8,
  });
  return marker.on("click", () => {
    const zoom = clusters.getClusterExpansionZoom(properties.cluster_id);
    if (zoom <= map.getMaxZoom()) map.setView([lat, lon], zoom);
    else popup([lat, lon], line(format(words.sites, { count: number(n) })));
  });
}

function siteMarker(found) {
  const [lon, lat] = found.geometry.coordinates;
  const row = sites.sites[found.properties.i];
  const marker = L.circleMarker([lat, lon], {
    renderer: layers.siteRenderer,
    pane: "sites",
    radius: 6,
    color: partyColour(sites.terms[row[3]].party),
    weight: 2,
    fillColor: CATEGORIES[sites.categories[row[2]]] || CATEGORIES.other,
    fillOpacity: 0.95,
  });
  return marker.on("click", () => popup([lat, lon], sitePopup(row)));
}

const popup = (latlng, content) => L.popup().setLatLng(latlng).setContent(content).openOn(map);

// What is in view (and a margin, so a short pan adds nothing): markers that stay are kept,
// only those that come or go are made or removed.
function drawSites() {
  if (!sites || !clusters) return;
  const bounds = map.getBounds().pad(0.25);
  const wide = bounds.getEast() - bounds.getWest() >= 360;
  const box = wide
    ? [-180, -85, 180, 85]
    : [bounds.getWest(), Math.max(bounds.getSouth(), -85), bounds.getEast(), Math.min(bounds.getNorth(), 85)];
  const wanted = new Map();
  for (const found of clusters.getClusters(box, Math.round(map.getZoom()))) {
    const properties = found.properties;
    wanted.set(properties.cluster ? `c${properties.cluster_id}` : `s${properties.i}`, found);
  }
  for (const [key, marker] of shownSites) {
    if (!wanted.has(key)) {
      layers.sites.removeLayer(marker);
      shownSites.delete(key);
    }
  }
  for (const [key, found] of wanted) {
    if (shownSites.has(key)) continue;
    const marker = found.properties.cluster ? clusterMarker(found) : siteMarker(found);
    shownSites.set(key, marker);
    layers.sites.addLayer(marker);
  }
}

async function loadSites() {
  try {
    const [loaded] = await Promise.all([fetchJson("/console/live/map/sites"), supercluster()]);
    sites = loaded;
    cluster(chosenTime());
    drawSites();
    legendParties();
    element.dataset.sites = String(sites.sites.length);
  } catch (error) {
    status.textContent = words.unreadable;
    console.warn(error);
  }
}

function supercluster() {
  if (window.Supercluster) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const script = Object.assign(document.createElement("script"), { src: SUPERCLUSTER });
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error("supercluster did not load")));
    document.head.append(script);
  });
}

// -- notices and alerts ----------------------------------------------------------------------
function itemLabel(item) {
  return (item.area && words.areas[item.area]) || words.kinds[item.kind] || item.kind;
}

function itemPopup(item) {
  return make(
    "div",
    {},
    make("strong", {}, itemLabel(item)),
    line(`${words.party}: `, isolated(item.party)),
    windowLine(item.start, item.end),
    line(`${words.event}: `, make("bdi", { className: "ident" }, item.event.slice(0, 16))),
    line(make("a", { href: `/console/channels/${item.channel}` }, words.channel)),
  );
}

function sideLabel(side) {
  const kind = words.kinds[side.kind] || side.kind;
  return side.site ? `${kind} “${side.site}”` : kind;
}

function alertLines(alert) {
  const lines = [
    make("span", { className: "severity" }, words.severities[alert.severity] || alert.severity),
    line(sideLabel(alert.a), " (", isolated(alert.a.party), ") × ", sideLabel(alert.b), " (", isolated(alert.b.party), ")"),
  ];
  if (alert.sites) lines.push(line(format(words.summary, { count: alert.sites })));
  if (alert.area_km2 > 0) lines.push(line(format(words.overlap, { area: number(alert.area_km2) })));
  if (alert.distance_km > 0) lines.push(line(format(words.distance, { distance: number(alert.distance_km) })));
  lines.push(windowLine(alert.start, alert.end));
  return lines;
}

function overlapLayer(alert) {
  const colour = SEVERITIES[alert.severity] || SEVERITIES.low;
  return L.geoJSON(alert.overlap, {
    pane: "overlaps",
    style: { color: colour, weight: 3, fillColor: colour, fillOpacity: 0.45, className: `overlap severity-${alert.severity}` },
    pointToLayer: (_, latlng) =>
      L.circleMarker(latlng, { radius: 9, color: colour, weight: 3, fillColor: colour, fillOpacity: 0.6, className: `overlap severity-${alert.severity}` }),
  }).bindPopup(() => make("div", {}, ...alertLines(alert), line(make("a", { href: `/console/channels/${alert.channel}` }, words.channel))));
}

// The minute tick alone would leave a notice that begins a moment from now off the map for up
// to a minute (and the page's clock, set from the server's, runs behind by the page's own
// transit time): draw again when the next one within the minute begins.
let nextStart = null;
function drawAtNextStart(t) {
  clearTimeout(nextStart);
  const starts = [...situation.items, ...situation.alerts]
    .map((item) => (item.start ? Date.parse(item.start) : NaN))
    .filter((start) => start > t);
  const wait = Math.min(...starts) - t;
  if (wait < 60_000) nextStart = setTimeout(onSlide, wait + 50);
}

function drawSituation() {
  const t = chosenTime();
  drawAtNextStart(t);
  layers.areas.clearLayers();
  layers.overlaps.clearLayers();
  for (const item of situation.items) {
    if (!activeAt(item.start, item.end, t)) continue;
    const colour = partyColour(item.party);
    const presence = item.kind === "presence";
    L.geoJSON(item.geometry, {
      style: {
        color: colour,
        weight: 2,
        dashArray: presence ? "6 5" : null,
        fillColor: colour,
        fillOpacity: presence ? 0.08 : 0.16,
        className: `notice kind-${item.kind}`,
      },
    })
      .bindPopup(() => itemPopup(item))
      .addTo(layers.areas);
  }
  const shown = situation.alerts
    .filter((alert) => activeAt(alert.start, alert.end, t))
    .sort((a, b) => (RANK[a.severity] ?? 9) - (RANK[b.severity] ?? 9));
  const entries = shown.map((alert) => {
    const layer = alert.overlap ? overlapLayer(alert).addTo(layers.overlaps) : null;
    const buttons = [];
    if (layer) {
      const show = make("button", { type: "button" }, words.zoom_to);
      show.addEventListener("click", () => {
        map.fitBounds(layer.getBounds(), { maxZoom: 9, padding: [30, 30] });
        layer.openPopup();
      });
      buttons.push(show);
    }
    buttons.push(make("a", { href: `/console/channels/${alert.channel}` }, words.channel));
    const entry = make("li", { className: `map-alert severity-${alert.severity}` }, ...alertLines(alert), line(...buttons.flatMap((b) => [b, " "])));
    entry.dataset.alert = alert.event;
    return entry;
  });
  alertList.replaceChildren(...(entries.length ? entries : [make("li", { className: "empty" }, words.no_alerts)]));
  legendParties();
}

// The notices if there are any, else the sites: where the desk's attention starts.
function firstView() {
  let bounds = null;
  const extend = (more) => {
    bounds = bounds ? bounds.extend(more) : L.latLngBounds(more.getSouthWest(), more.getNorthEast());
  };
  for (const item of situation.items) extend(L.geoJSON(item.geometry).getBounds());
  if (!bounds && sites?.sites.length) {
    const [lon, lat] = sites.sites[0];
    const box = [lat, lon, lat, lon];
    for (const [lon, lat] of sites.sites) {
      box[0] = Math.min(box[0], lat);
      box[1] = Math.min(box[1], lon);
      box[2] = Math.max(box[2], lat);
      box[3] = Math.max(box[3], lon);
    }
    extend(L.latLngBounds([box[0], box[1]], [box[2], box[3]]));
  }
  if (bounds?.isValid()) map.fitBounds(bounds, { maxZoom: 8, padding: [20, 20] });
}

// -- the legend and the slider ---------------------------------------------------------------
function legendParties() {
  const parties = new Set([own]);
  for (const item of situation.items) parties.add(item.party);
  for (const alert of situation.alerts) parties.add(alert.a.party).add(alert.b.party);
  for (const terms of sites?.terms || []) parties.add(terms.party);
  const list = document.getElementById("map-parties");
  list.replaceChildren(
    ...[...parties].sort().map((party) => {
      const swatch = make("span", { className: "swatch" });
      swatch.style.background = partyColour(party);
      return make("li", {}, swatch, " ", isolated(party));
    }),
  );
}

function paintSwatches() {
  for (const swatch of document.querySelectorAll(".swatch[data-severity]")) {
    swatch.style.background = SEVERITIES[swatch.dataset.severity];
  }
  for (const swatch of document.querySelectorAll(".swatch[data-category]")) {
    swatch.style.background = CATEGORIES[swatch.dataset.category] || CATEGORIES.other;
  }
}

function showTime() {
  const text = utc(chosenTime());
  shownTime.replaceChildren(isolated(text));
  slider.setAttribute("aria-valuetext", text);
}

function onSlide() {
  showTime();
  drawSituation();
}

// Sites are clustered again only once the slider rests (and only if some have a window).
function onSlideEnd() {
  if (!sites || !sitesTimed()) return;
  cluster(chosenTime());
  drawSites();
}

function toNow() {
  slider.value = "0";
  onSlide();
  onSlideEnd();
}

async function start() {
  paintSwatches();
  showTime();
  map = await createMap(element, { center: [35, 30], zoom: 4 });
  L = window.L;
  map.createPane("sites").classList.add("sites-pane");
  map.createPane("overlaps").classList.add("overlaps-pane");
  layers = {
    areas: L.layerGroup().addTo(map),
    overlaps: L.layerGroup().addTo(map),
    sites: L.layerGroup().addTo(map),
    siteRenderer: L.canvas({ pane: "sites", padding: 0.2 }),
  };
  map.on("moveend", drawSites);
  element.addEventListener("sse:map", refresh);
  document.body.addEventListener("htmx:sseOpen", refresh);
  slider.addEventListener("input", onSlide);
  slider.addEventListener("change", onSlideEnd);
  document.getElementById("map-now").addEventListener("click", toNow);
  // Time moves on: what has ended leaves the map, what begins comes onto it.
  setInterval(onSlide, 60_000);
  await Promise.all([refresh(), loadSites()]);
  firstView();
  element.dataset.ready = "true";
}

start();
