// Area fields drawn on a map. Beside every <textarea data-area-input> of a page (and of what
// htmx swaps in later) comes a small map with tools to draw a polygon or a circle (a centre
// and a radius). What is drawn is written into the field as the node's Area JSON
// (docs/forms.md): {"type": "Polygon", "coordinates": [[[lon, lat], ..., first]]} or
// {"type": "Point", "coordinates": [lon, lat], "radius_km": r}; what is typed into the field
// is drawn. The field stays the one that is sent, so an area can always be typed instead.
const SELECTOR = "textarea[data-area-input]";
const DECIMALS = 6; // about 0.1 m: finer than any area a notice names
const RADIUS_DECIMALS = 3; // metres
const MAX_ZOOM_ON_AREA = 9;

const round = (value, decimals) => Number(value.toFixed(decimals));

// The map's [lat, lng] and the node's [lon, lat], longitudes brought back into -180..180.
function position(latlng) {
  const wrapped = latlng.wrap();
  return [round(wrapped.lng, DECIMALS), round(wrapped.lat, DECIMALS)];
}

function ring(latlngs) {
  const positions = latlngs.map(position);
  return [...positions, positions[0]];
}

// The Area of a drawn layer, as the API takes it.
function areaOf(layer) {
  const L = window.L;
  if (layer instanceof L.Circle) {
    return {
      type: "Point",
      coordinates: position(layer.getLatLng()),
      radius_km: round(layer.getRadius() / 1000, RADIUS_DECIMALS),
    };
  }
  const latlngs = layer.getLatLngs();
  if (L.LineUtil.isFlat(latlngs[0])) return { type: "Polygon", coordinates: latlngs.map(ring) };
  return { type: "MultiPolygon", coordinates: latlngs.map((polygon) => polygon.map(ring)) };
}

const isPosition = (p) => Array.isArray(p) && p.length === 2 && p.every(Number.isFinite);
const isRing = (r) => Array.isArray(r) && r.length >= 4 && r.every(isPosition);
const isPolygon = (rings) => Array.isArray(rings) && rings.length > 0 && rings.every(isRing);

// A ring as the map draws it: [lat, lng], without the closing position.
const toLatLngs = (positions) => positions.slice(0, -1).map(([lon, lat]) => [lat, lon]);

// The layer of a typed Area, or null when the map cannot draw it.
function layerOf(area) {
  const L = window.L;
  const coordinates = area?.coordinates;
  if (area?.type === "Polygon" && isPolygon(coordinates)) return L.polygon(coordinates.map(toLatLngs));
  if (area?.type === "MultiPolygon" && Array.isArray(coordinates) && coordinates.length && coordinates.every(isPolygon)) {
    return L.polygon(coordinates.map((polygon) => polygon.map(toLatLngs)));
  }
  if (area?.type === "Point" && isPosition(coordinates) && Number.isFinite(area.radius_km) && area.radius_km > 0) {
    return L.circle([coordinates[1], coordinates[0]], { radius: area.radius_km * 1000 });
  }
  return null;
}

// The drawing plugin's words, from the page's.
function toolWords(words) {
  return {
    tooltips: {
      firstVertex: words.first_vertex,
      continueLine: words.continue_line,
      finishPoly: words.finish_poly,
      startCircle: words.start_circle,
      finishCircle: words.finish_circle,
    },
    actions: { finish: words.finish, cancel: words.cancel, removeLastVertex: words.remove_last },
    buttonTitles: {
      drawPolyButton: words.draw_polygon,
      drawCircleButton: words.draw_circle,
      editButton: words.edit,
      dragButton: words.drag,
      deleteButton: words.remove,
    },
  };
}

async function attach(field, basemap) {
  const words = basemap.mapWords();
  const box = document.createElement("div");
  box.className = "area-map";
  box.setAttribute("role", "region");
  box.setAttribute("aria-label", words.map);
  const hint = document.createElement("p");
  hint.className = "hint area-hint";
  hint.setAttribute("aria-live", "polite");
  hint.textContent = words.area_hint;
  field.after(box, hint);
  // Coordinates read left to right, in an Arabic page too.
  if (!field.hasAttribute("dir")) field.dir = "ltr";
  const map = await basemap.createMap(box, { draw: true });
  map.pm.setLang("parley", toolWords(words), "en");
  map.pm.addControls({
    position: basemap.startCorner("top"),
    drawMarker: false,
    drawCircleMarker: false,
    drawPolyline: false,
    drawRectangle: false,
    drawText: false,
    cutPolygon: false,
    rotateMode: false,
    drawPolygon: true,
    drawCircle: true,
    editMode: true,
    dragMode: true,
    removalMode: true,
  });
  map.pm.setGlobalOptions({ allowSelfIntersection: false });
  // Geoman's tool buttons are links named only by their container's title: name them, so a
  // screen reader says which tool each one is.
  for (const button of box.querySelectorAll(".leaflet-buttons-control-button")) {
    const title = button.closest("[title]")?.getAttribute("title");
    if (title) button.setAttribute("aria-label", title);
  }

  let drawn = null;
  let writing = false;

  function keep(layer) {
    if (drawn && drawn !== layer) drawn.remove();
    drawn = layer;
    layer.on("pm:edit pm:dragend", write);
    layer.on("pm:remove", () => {
      if (drawn === layer) drawn = null;
      write();
    });
  }

  // Into the field, as if typed: the page's own listeners (validation, drafts) hear it.
  function write() {
    writing = true;
    field.value = drawn ? JSON.stringify(areaOf(drawn)) : "";
    field.dispatchEvent(new Event("input", { bubbles: true }));
    field.dispatchEvent(new Event("change", { bubbles: true }));
    writing = false;
    hint.textContent = words.area_hint;
  }

  function read() {
    const text = field.value.trim();
    if (!text) {
      drawn?.remove();
      drawn = null;
      hint.textContent = words.area_hint;
      return;
    }
    let area = null;
    try {
      area = JSON.parse(text);
    } catch {
      // Half-typed: said below the map, drawn once it reads as an area.
    }
    const layer = area && layerOf(area);
    if (!layer) {
      hint.textContent = area?.type === "NamedArea" ? words.named_area : words.not_drawn;
      return;
    }
    keep(layer.addTo(map));
    hint.textContent = words.area_hint;
    map.fitBounds(layer.getBounds(), { maxZoom: MAX_ZOOM_ON_AREA, padding: [20, 20] });
  }

  map.on("pm:create", ({ layer }) => {
    keep(layer);
    write();
  });
  field.addEventListener("input", () => {
    if (!writing) read();
  });
  read();
  box.dataset.ready = "true";
}

let basemap = null;

async function scan(root) {
  const found = root.matches?.(SELECTOR) ? [root] : [...root.querySelectorAll(SELECTOR)];
  const fields = found.filter((field) => !field.dataset.areaMap);
  if (!fields.length) return;
  for (const field of fields) field.dataset.areaMap = "attached";
  basemap ??= import("./basemap.js");
  const loaded = await basemap;
  await Promise.all(fields.map((field) => attach(field, loaded)));
}

scan(document);
document.addEventListener("htmx:load", (event) => scan(event.target));
