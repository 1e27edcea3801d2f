// The search page: upload a photo to POST /search, draw its garments over it, show the shop
// matches of the selected garment.  Plain DOM code, no build step and nothing loaded from
// elsewhere, so the page works wherever the service runs.
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);
const els = {
  dropzone: $("dropzone"),
  photo: $("photo"),
  category: $("category"),
  topK: $("top-k"),
  threshold: $("score-threshold"),
  error: $("error"),
  status: $("status"),
  results: $("results"),
  image: $("query-image"),
  boxes: $("boxes"),
  garments: $("garments"),
  matchesSection: $("matches-section"),
  matchesTitle: $("matches-title"),
  matches: $("matches"),
};

const state = { file: null, imageUrl: null, garments: [], selected: -1, request: 0 };

// One hue per category (13), spread around the colour wheel.
const categoryColour = (id) => `hsl(${Math.round(((id - 1) * 360) / 13)}, 75%, 45%)`;

function element(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

function svgElement(tag, attrs = {}) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  return node;
}

function showError(message) {
  els.error.textContent = message;
  els.error.hidden = !message;
}

async function apiError(response) {
  // Every API error is {"error": {"code", "message"}}; anything else (a proxy's page) is shown
  // by its status line.
  try {
    const body = await response.json();
    if (body && body.error && body.error.message) return body.error.message;
  } catch (_) {
    /* not JSON */
  }
  return `${response.status} ${response.statusText}`;
}

async function loadCategories() {
  try {
    const response = await fetch("categories");
    if (!response.ok) throw new Error(await apiError(response));
    for (const cat of await response.json()) {
      els.category.append(element("option", { value: String(cat.id) }, cat.name));
    }
  } catch (err) {
    showError(`Could not load the categories: ${err.message}`);
  }
}

function searchUrl() {
  const params = new URLSearchParams({
    top_k: els.topK.value || "8",
    score_threshold: els.threshold.value || "0.5",
  });
  if (els.category.value) params.set("category", els.category.value);
  return `search?${params}`;
}

async function runSearch() {
  if (!state.file) return;
  const request = ++state.request; // a newer search makes this one's answer stale
  showError("");
  els.status.textContent = "Searching…";
  const form = new FormData();
  form.append("image", state.file);
  try {
    const response = await fetch(searchUrl(), { method: "POST", body: form });
    if (!response.ok) throw new Error(await apiError(response));
    const result = await response.json();
    if (request !== state.request) return;
    render(result);
  } catch (err) {
    if (request !== state.request) return;
    els.status.textContent = "";
    showError(err.message);
  }
}

// The garment of a new answer that is the one selected before (same category and box), so a
// re-run (another number of matches, another score) keeps the user's choice; else the first.
function keptSelection(garments) {
  const before = state.garments[state.selected];
  if (!before) return 0;
  const same = garments.findIndex(
    (g) => g.category === before.category && g.box.every((v, k) => v === before.box[k]),
  );
  return Math.max(0, same);
}

const LABEL_PX = 14; // label text height on screen, whatever the photo's size

function render(result) {
  const selected = keptSelection(result.garments);
  state.garments = result.garments;
  state.selected = -1;
  els.image.src = state.imageUrl;
  els.results.hidden = false; // laid out now, so the photo's displayed width is known
  const { width, height } = result.image;
  els.boxes.setAttribute("viewBox", `0 0 ${width} ${height}`);
  els.boxes.replaceChildren();
  els.garments.replaceChildren();
  // The SVG scales with the photo: a label LABEL_PX tall on screen is this tall in its units.
  const fontSize = (LABEL_PX * width) / Math.max(1, els.boxes.parentElement.clientWidth);
  result.garments.forEach((garment, i) => {
    els.boxes.append(garmentBox(garment, i, fontSize));
    els.garments.append(garmentEntry(garment, i));
  });
  const n = result.garments.length;
  els.status.textContent =
    n === 0
      ? "No garment found at this score; try a lower minimum detection score."
      : `${n} garment${n === 1 ? "" : "s"} found in ${Math.round(result.took_ms)} ms.`;
  els.matchesSection.hidden = n === 0;
  if (n > 0) select(selected);
}

function garmentLabel(garment, i) {
  return `${i + 1}. ${garment.category_name} (${garment.score.toFixed(2)})`;
}

function garmentBox(garment, i, fontSize) {
  const [x1, y1, x2, y2] = garment.box;
  const colour = categoryColour(garment.category);
  const group = svgElement("g", {
    class: "garment",
    tabindex: "0",
    role: "button",
    "aria-label": `Show the matches of garment ${garmentLabel(garment, i)}`,
    "data-index": String(i),
  });
  // The mask's outline, shown while the garment is selected: where the model sees the garment.
  for (const flat of garment.mask_outline || []) {
    const points = [];
    for (let k = 0; k + 1 < flat.length; k += 2) points.push(`${flat[k]},${flat[k + 1]}`);
    group.append(svgElement("polygon", { class: "outline", points: points.join(" "), fill: colour }));
  }
  group.append(
    svgElement("rect", {
      class: "frame", x: x1, y: y1, width: x2 - x1, height: y2 - y1,
      stroke: colour, "vector-effect": "non-scaling-stroke",
    }),
    svgElement("rect", {
      class: "label-bg", x: x1, y: Math.max(0, y1 - fontSize * 1.3),
      width: fontSize * 0.6 * garmentLabel(garment, i).length, height: fontSize * 1.3,
      fill: colour,
    }),
  );
  const text = svgElement("text", {
    x: x1 + fontSize * 0.2, y: Math.max(fontSize, y1 - fontSize * 0.3), "font-size": fontSize,
  });
  text.textContent = garmentLabel(garment, i);
  group.append(text);
  group.addEventListener("click", () => select(i));
  group.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      select(i);
    }
  });
  return group;
}

function garmentEntry(garment, i) {
  const item = element("li");
  const button = element(
    "button",
    { type: "button", class: "garment-entry", "data-index": String(i) },
    garmentLabel(garment, i),
  );
  button.style.borderLeftColor = categoryColour(garment.category);
  button.addEventListener("click", () => select(i));
  item.append(button);
  return item;
}

function select(i) {
  state.selected = i;
  for (const node of document.querySelectorAll("[data-index]")) {
    const on = Number(node.dataset.index) === i;
    node.classList.toggle("selected", on);
    if (node.tagName === "BUTTON") node.setAttribute("aria-pressed", String(on));
  }
  // drawn last, so the selected garment's box and label lie over the others
  const box = els.boxes.querySelector(`.garment[data-index="${i}"]`);
  if (box) els.boxes.append(box);
  const garment = state.garments[i];
  els.matchesTitle.textContent = `Shop matches for ${garmentLabel(garment, i)}`;
  els.matches.replaceChildren(...garment.matches.map(matchCard));
  if (garment.matches.length === 0) {
    els.matches.append(element("li", { class: "empty" }, "No shop item of this category."));
  }
}

function matchCard(match, rank) {
  const card = element("li", { class: "match" });
  const link = element("a", {
    href: match.image_url,
    target: "_blank",
    rel: "noopener",
    title: `Open shop image of item ${match.item_id}`,
  });
  const image = element("img", {
    src: match.image_url,
    alt: `Shop match ${rank + 1}: ${match.category_name}, item ${match.item_id}`,
    loading: "lazy",
  });
  link.append(image, matchedBox(image, match));
  const caption = element("div", { class: "caption" });
  caption.append(
    element("span", { class: "rank" }, `#${rank + 1}`),
    element("span", { class: "category" }, match.category_name),
    element("span", { class: "score" }, `score ${match.score.toFixed(3)}`),
  );
  card.append(link, caption);
  return card;
}

// The matched garment's box over its shop image (which may show several garments).  The SVG
// takes the image's own size as its viewBox and the same "contain" fit as the image, so the
// box lands on the picture wherever the thumbnail's letterboxing puts it.
function matchedBox(image, match) {
  const overlay = svgElement("svg", { class: "matched-box", "aria-hidden": "true" });
  const [x1, y1, x2, y2] = match.box;
  overlay.append(
    svgElement("rect", {
      x: x1, y: y1, width: x2 - x1, height: y2 - y1,
      stroke: categoryColour(match.category), "vector-effect": "non-scaling-stroke",
    }),
  );
  const fit = () => {
    overlay.setAttribute("viewBox", `0 0 ${image.naturalWidth} ${image.naturalHeight}`);
  };
  if (image.complete && image.naturalWidth) fit();
  else image.addEventListener("load", fit);
  return overlay;
}

function useFile(file) {
  if (!file) return;
  if (state.imageUrl) URL.revokeObjectURL(state.imageUrl);
  state.file = file;
  state.garments = []; // a new photo: nothing to keep selected
  state.imageUrl = URL.createObjectURL(file);
  runSearch();
}

els.photo.addEventListener("change", () => useFile(els.photo.files[0]));
for (const control of [els.category, els.topK, els.threshold]) {
  control.addEventListener("change", runSearch);
}
els.dropzone.addEventListener("dragover", (event) => {
  event.preventDefault();
  els.dropzone.classList.add("dragging");
});
els.dropzone.addEventListener("dragleave", () => els.dropzone.classList.remove("dragging"));
els.dropzone.addEventListener("drop", (event) => {
  event.preventDefault();
  els.dropzone.classList.remove("dragging");
  useFile(event.dataTransfer.files[0]);
});
document.getElementById("controls").addEventListener("submit", (event) => {
  event.preventDefault();
  runSearch();
});

loadCategories();
