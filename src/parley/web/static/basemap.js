// The console's maps: Leaflet over the Natural Earth base map the node ships (land and
// borders at 1:50m from world-atlas, made GeoJSON by topojson-client), with no tile server:
// nothing is asked of any host but the node. Leaflet, topojson-client and the drawing plugin
// are classic scripts, loaded here once, when a page first shows a map. Every word comes from
// the page (#map-words, translated on the server); the controls sit on the side a reader
// starts from (the right in Arabic).
const STATIC = "/console/static/";
const VENDOR = `${STATIC}vendor/`;
const LAND = { stroke: false, fillColor: "#f3f1ea", fillOpacity: 1 };
const BORDERS = { color: "#9a9385", weight: 0.8, opacity: 1, fill: false };
const loading = new Map();
let baseMap = null;

export const rightToLeft = () => document.documentElement.dir === "rtl";

// Controls on the reading side, what is secondary (the attribution) on the other.
export const startCorner = (vertical) => `${vertical}${rightToLeft() ? "right" : "left"}`;
export const endCorner = (vertical) => `${vertical}${rightToLeft() ? "left" : "right"}`;

export function mapWords() {
  const holder = document.getElementById("map-words");
  return holder ? JSON.parse(holder.dataset.words) : {};
}

function once(url, make) {
  if (!loading.has(url)) {
    loading.set(
      url,
      new Promise((resolve, reject) => {
        const element = make();
        element.addEventListener("load", resolve);
        element.addEventListener("error", () => reject(new Error(`${url} did not load`)));
        document.head.append(element);
      }),
    );
  }
  return loading.get(url);
}

const script = (src) => once(src, () => Object.assign(document.createElement("script"), { src }));

function style(href) {
  if (document.querySelector(`link[rel="stylesheet"][href="${href}"]`)) return Promise.resolve();
  return once(href, () => Object.assign(document.createElement("link"), { rel: "stylesheet", href }));
}

// Leaflet first: the drawing plugin extends it.
export async function loadLeaflet({ draw = false } = {}) {
  const sheets = [`${VENDOR}leaflet/leaflet.css`, `${STATIC}map.css`];
  if (draw) sheets.push(`${VENDOR}leaflet-geoman-free/leaflet-geoman.css`);
  const styled = Promise.all(sheets.map(style));
  if (!window.L) await script(`${VENDOR}leaflet/leaflet.js`);
  const scripts = [];
  if (!window.topojson) scripts.push(script(`${VENDOR}topojson-client/topojson-client.min.js`));
  if (draw && !window.L.PM) scripts.push(script(`${VENDOR}leaflet-geoman-free/leaflet-geoman.min.js`));
  await Promise.all([styled, ...scripts]);
  return window.L;
}

// Fetched and converted once a page, however many maps it shows.
function naturalEarth() {
  baseMap ??= fetch(`${VENDOR}world-atlas/countries-50m.json`)
    .then((answer) => {
      if (!answer.ok) throw new Error(`the base map did not load: ${answer.status}`);
      return answer.json();
    })
    .then((world) => ({
      land: window.topojson.feature(world, world.objects.land),
      borders: window.topojson.mesh(world, world.objects.countries, (a, b) => a !== b),
    }));
  return baseMap;
}

// A map in ``container`` with the base map drawn; ``draw`` loads the drawing plugin too.
// The base map has a canvas and a pane of its own, under everything else, so what a page
// draws over it never makes the whole world redraw.
export async function createMap(container, { draw = false, center = [30, 20], zoom = 2 } = {}) {
  const L = await loadLeaflet({ draw });
  const words = mapWords();
  const map = L.map(container, {
    zoomControl: false,
    attributionControl: false,
    worldCopyJump: true,
    minZoom: 1,
    maxZoom: 16,
  }).setView(center, zoom);
  container.classList.add("console-map");
  // A field shown later (a form's part swapped in, a tab opened) or a resized window: Leaflet
  // must measure its box again.
  new ResizeObserver(() => map.invalidateSize()).observe(container);
  L.control
    .zoom({ position: startCorner("top"), zoomInTitle: words.zoom_in, zoomOutTitle: words.zoom_out })
    .addTo(map);
  L.control.attribution({ prefix: false, position: endCorner("bottom") }).addAttribution("Natural Earth").addTo(map);
  map.createPane("basemap").classList.add("basemap-pane");
  const renderer = L.canvas({ pane: "basemap", padding: 0.3 });
  const { land, borders } = await naturalEarth();
  const fixed = { renderer, interactive: false, pmIgnore: true };
  L.geoJSON(land, { ...fixed, style: LAND }).addTo(map);
  L.geoJSON(borders, { ...fixed, style: BORDERS }).addTo(map);
  return map;
}
