/* A survey form in the phone's browser: ODK Web Forms renders the box's XForm; this
   page gives it what plain HTTP or Web Forms 0.22 lack, and sends the answers.

   - Location questions: on plain HTTP a browser has no GPS for the page, so
     navigator.geolocation is replaced by a chooser: tap the commune's map (the box's
     own tiles) or type a village's name. Web Forms' "Get location" dialog receives the
     chosen point as a position with an honest accuracy.
   - Sound (and other non-image) uploads: Web Forms 0.22 shows a placeholder for them;
     a global mixin finds each placeholder's component with its question, and puts a
     file input there (on a phone it offers the recorder) that gives the file to the
     question itself: the engine names it, writes it in the XML, checks "required".
   - Submission: the OpenRosa multipart body (xml_submission_file and the files) goes
     to the box, which answers in the visitor's language; a cut link keeps the answers
     on the page, and sending again is safe (the instanceID makes it idempotent). */
import { createApp, h } from "vue";
import { OdkWebForm, webFormsPlugin, POST_SUBMIT__NEW_INSTANCE } from "@getodk/web-forms";

const data = JSON.parse(document.getElementById("webform-data").textContent);
const T = data.strings;
const root = document.getElementById("webform");
const statusEl = document.getElementById("webform-status");

function say(text, kind) {
  statusEl.textContent = text;
  statusEl.className = "wf-status " + (kind || "");
  if (text) statusEl.scrollIntoView({block: "nearest"});
}

/* ---- Web Forms' own words in the visitor's language ----------------------------------- */

const WORDS = data.words;
const ATTRIBUTES = ["aria-label", "alt", "placeholder", "title"];
// Web Forms' sentences around a number ("Accuracy: 500 m,"): "{n}" in the key.
const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const PATTERNS = Object.keys(WORDS).filter((k) => k.includes("{n}")).map((k) =>
  [new RegExp("^" + k.split("{n}").map(escape).join("(.+?)") + "$"), WORDS[k]]);

function wordFor(key) {
  if (Object.prototype.hasOwnProperty.call(WORDS, key)) return WORDS[key];
  for (const [pattern, word] of PATTERNS) {
    const m = pattern.exec(key);
    if (m) { let i = 1; return word.replace(/\{n\}/g, () => m[i++]); }
  }
  return null;
}

function translate(node) {
  if (!node) return;
  const walker = document.createTreeWalker(node, NodeFilter.SHOW_TEXT);
  for (let t = walker.nextNode(); t; t = walker.nextNode()) {
    const key = t.nodeValue.trim();
    if (!key || (t.parentElement && t.parentElement.closest(".wf-own"))) continue;
    const word = wordFor(key);
    if (word && word !== key) t.nodeValue = t.nodeValue.replace(key, word);
  }
  unlinkOffBox(node);
  if (node.querySelectorAll) {
    const selector = ATTRIBUTES.map((a) => "[" + a + "]").join(",");
    for (const e of [node, ...node.querySelectorAll(selector)]) {
      if (!e.getAttribute || (e.closest && e.closest(".wf-own"))) continue;
      for (const a of ATTRIBUTES) {
        const value = e.getAttribute(a);
        const word = value && wordFor(value.trim());
        if (word && word !== value) e.setAttribute(a, word);
      }
    }
  }
}

// A link off the box (the footer's credit to getodk.org) leads nowhere on an offline
// hotspot but to the portal again: it stays as text, not as a link.
function unlinkOffBox(node) {
  if (!node.querySelectorAll) return;
  for (const a of [node, ...node.querySelectorAll("a[href]")]) {
    if (a.tagName === "A" && a.href && a.origin !== location.origin) a.removeAttribute("href");
  }
}

function translateChanges(mutations) {
  for (const m of mutations) {
    if (m.type === "characterData") translate(m.target.parentNode || m.target);
    else if (m.type === "attributes") translate(m.target);
    for (const n of m.addedNodes || []) translate(n.nodeType === 3 ? n.parentNode : n);
  }
}

/* ---- location: a chooser instead of the GPS that plain HTTP does not give ---------- */

const fold = (s) => s.normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase().trim();
let picker = null;

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement("script");
    s.src = src;
    s.onload = resolve;
    s.onerror = reject;
    document.head.appendChild(s);
  });
}

let leafletReady = null;
function loadLeaflet(map) {
  if (!leafletReady) {
    const css = document.createElement("link");
    css.rel = "stylesheet";
    css.href = map.leafletCss;
    document.head.appendChild(css);
    leafletReady = loadScript(map.leafletJs).then(() => loadScript(map.protomapsJs));
  }
  return leafletReady;
}

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (text) e.textContent = text;
  return e;
}

function position(lat, lon, accuracy) {
  const coords = {latitude: lat, longitude: lon, altitude: 0, accuracy: accuracy,
                  altitudeAccuracy: null, heading: null, speed: null};
  return {coords: coords, timestamp: Date.now()};
}

function closePicker() {
  if (picker) { picker.remove(); picker = null; }
}

/* Resolves with a position, or null when the visitor cancels. */
function choosePlace() {
  closePicker();
  return new Promise((resolve) => {
    let chosen = null;
    const box = el("div", {class: "wf-picker wf-own", role: "dialog", "aria-modal": "true",
                           "aria-labelledby": "wf-picker-title", id: "wf-picker"});
    box.appendChild(el("h2", {id: "wf-picker-title"}, T.where));
    box.appendChild(el("p", {}, T.noGps));
    const done = (pos) => { closePicker(); resolve(pos); };
    if (data.map) {
      const mapDiv = el("div", {id: "wf-map", class: "wf-map"});
      box.appendChild(mapDiv);
      loadLeaflet(data.map).then(() => {
        if (!document.body.contains(mapDiv)) return;
        const a = data.map.area;
        const bounds = L.latLngBounds([a[1], a[0]], [a[3], a[2]]);
        const m = L.map(mapDiv, {maxBounds: bounds.pad(0.2), minZoom: 10, maxZoom: 17});
        protomapsL.leafletLayer({url: data.map.tiles, flavor: "light",
                                 attribution: "© OpenStreetMap contributors"}).addTo(m);
        if (data.map.box) m.setView(data.map.box, 14); else m.fitBounds(bounds);
        let marker = null;
        m.on("click", (e) => {
          chosen = position(e.latlng.lat, e.latlng.lng, 25); // a fingertip at zoom 15
          if (marker) marker.setLatLng(e.latlng); else marker = L.marker(e.latlng).addTo(m);
          use.disabled = false;
        });
      }).catch(() => mapDiv.remove());
    }
    const label = el("label", {for: "wf-place"}, T.placeName);
    const input = el("input", {id: "wf-place", type: "search", autocomplete: "off"});
    const list = el("ul", {class: "wf-places", id: "wf-places"});
    const msg = el("p", {class: "muted", id: "wf-picker-msg"});
    box.append(label, input, list, msg);
    const show = () => {
      const q = fold(input.value);
      list.textContent = "";
      const found = data.places.filter((p) => !q || fold(p.name).includes(q)).slice(0, 8);
      msg.textContent = q && !found.length ? T.noPlace : "";
      for (const p of found) {
        const b = el("button", {type: "button", class: "wf-place", "data-place": p.name}, p.name);
        b.onclick = () => done(position(p.lat, p.lon, 500)); // a village, not a house
        const li = el("li");
        li.appendChild(b);
        list.appendChild(li);
      }
    };
    input.oninput = show;
    show();
    const actions = el("div", {class: "wf-actions"});
    const use = el("button", {type: "button", id: "wf-use", disabled: ""}, T.usePoint);
    use.hidden = !data.map; // a point comes from the map
    use.onclick = () => done(chosen);
    const cancel = el("button", {type: "button", id: "wf-cancel"}, T.cancel);
    cancel.onclick = () => done(null);
    actions.append(use, cancel);
    box.appendChild(actions);
    box.addEventListener("keydown", (e) => { if (e.key === "Escape") done(null); });
    document.body.appendChild(box);
    picker = box;
    input.focus();
  });
}

if (!window.isSecureContext || !navigator.geolocation) {
  let watches = 0;
  const denied = {code: 1, PERMISSION_DENIED: 1, message: T.noGps};
  const geo = {
    // Asked by the form itself at start (start-geopoint): no chooser opens unasked.
    getCurrentPosition(ok, fail) { if (fail) setTimeout(() => fail(denied), 0); },
    // Asked by the "Get location" button of a location question.
    watchPosition(ok, fail) {
      choosePlace().then((pos) => { if (pos) ok(pos); else if (fail) fail(denied); });
      return ++watches;
    },
    clearWatch() { closePicker(); },
  };
  Object.defineProperty(navigator, "geolocation", {value: geo, configurable: true});
}

/* ---- sounds: a file input where Web Forms 0.22 has a placeholder ------------------- */

let soundCount = 0;
const widgets = new WeakMap(); // placeholder element -> our widget

function soundWidget(q) {
  const id = "wf-sound-" + ++soundCount;
  const state = q.currentState;
  const box = el("div", {class: "wf-sound wf-own", "data-ref": state.reference || ""});
  const label = (state.label && state.label.asString) || String(state.reference).split("/").pop();
  const caption = el("p", {class: "wf-sound-label", dir: "auto"});
  if (state.required) caption.appendChild(el("span", {class: "req"}, "* "));
  caption.appendChild(document.createTextNode(label));
  box.appendChild(caption);
  const media = (q.nodeOptions && q.nodeOptions.media) || {};
  const button = el("label", {class: "wf-sound-button", for: id}, T.sound);
  const input = el("input", {type: "file", id: id, accept: media.accept || "audio/*",
                             capture: ""});
  const preview = el("audio", {controls: "", hidden: ""});
  const remove = el("button", {type: "button", class: "wf-remove", hidden: ""}, T.remove);
  const show = (file) => {
    preview.hidden = remove.hidden = !file;
    if (file && String(file.type).startsWith("audio")) preview.src = URL.createObjectURL(file);
    else preview.removeAttribute("src");
  };
  input.onchange = () => {
    const file = input.files[0];
    if (file) q.setValue(file);
    show(file);
  };
  remove.onclick = () => { q.setValue(null); input.value = ""; show(null); };
  box.append(button, input, preview, remove);
  show(state.value instanceof Blob ? state.value : null);
  return box;
}

/* Applied to every component of the app: acts only in Web Forms' UploadFileControl
   (the placeholder), whose prop is the engine's question. */
const soundMixin = {
  mounted() {
    if (this.$options.__name !== "UploadFileControl" || !this.$props.question) return;
    const holder = this.$el;
    if (!holder || !holder.parentNode || widgets.has(holder)) return;
    holder.hidden = true;
    const widget = soundWidget(this.$props.question);
    widgets.set(holder, widget);
    holder.after(widget);
  },
  beforeUnmount() {
    const widget = this.$el && widgets.get(this.$el);
    if (widget) widget.remove();
  },
};

/* ---- answers kept on the phone while the box cannot be reached ---------------------
   IndexedDB works on plain HTTP (service workers do not): a submission the box did not
   answer is kept there, by its instanceID, with its files, and offered again the next
   time this form's page opens. Sending it twice is safe: the box stores it once. */

const STORE = "unsent";

function openKept() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open("espace-forms", 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE, {keyPath: "id"});
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function keptDo(mode, work) {
  const db = await openKept();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(STORE, mode);
    const result = work(tx.objectStore(STORE));
    tx.oncomplete = () => { db.close(); resolve(result && result.result); };
    tx.onerror = () => { db.close(); reject(tx.error); };
  });
}

const keep = (record) => keptDo("readwrite", (s) => s.put(record));
const forget = (id) => keptDo("readwrite", (s) => s.delete(id)).catch(() => {});
const keptHere = () => keptDo("readonly", (s) => s.getAll())
  .then((all) => all.filter((r) => r.url === data.submit)).catch(() => []);

/* One POST of the parts ({name, file, filename}) with this page's CSRF token. */
async function post(parts) {
  const body = new FormData();
  for (const p of parts) body.append(p.name, p.file, p.filename);
  body.append("csrf", data.csrf);
  let resp;
  try {
    resp = await fetch(data.submit, {method: "POST", body: body, credentials: "same-origin"});
  } catch (e) {
    return {sent: false, offline: true, message: T.offline};
  }
  let answer = {};
  try { answer = await resp.json(); } catch (e) { /* a proxy's or waitress's own page */ }
  const message = answer.message || (resp.status === 413 ? T.tooLarge : T.offline);
  return {sent: resp.ok && answer.ok, status: resp.status, message: message};
}

async function showKept() {
  const old = document.getElementById("wf-kept");
  if (old) old.remove();
  const kept = await keptHere();
  if (!kept.length) return;
  const box = el("div", {class: "wf-kept wf-own", id: "wf-kept", "data-count": kept.length});
  box.appendChild(el("p", {}, T.kept.replace("{n}", kept.length)));
  const button = el("button", {type: "button", id: "wf-send-kept", class: "btn"}, T.sendKept);
  button.onclick = async () => {
    button.disabled = true;
    say(T.sending, "");
    for (const record of kept) {
      const r = await post(record.parts);
      if (r.sent) { await forget(record.id); continue; }
      say(r.message, "error");
      button.disabled = false;
      return showKept();
    }
    say(T.sent, "ok");
    showKept();
  };
  box.appendChild(button);
  statusEl.after(box);
}

async function onSubmit(payload, callback) {
  if (payload.status !== "ready") return; // Web Forms shows what is missing
  const instance = payload.data[0];
  const parts = [];
  for (const [name, value] of instance.entries()) {
    parts.push({name: name, file: value, filename: value.name});
  }
  const total = parts.reduce((n, p) => n + p.file.size, 0);
  if (total > data.maxBytes) { say(T.tooLarge, "error"); return; }
  const xml = await instance.get("xml_submission_file").text();
  const id = (xml.match(/<(?:\w+:)?instanceID>([^<]+)</) || [])[1] || String(Date.now());
  say(T.sending, "");
  const r = await post(parts);
  if (r.sent) {
    await forget(id);
    callback({status: "success", next: POST_SUBMIT__NEW_INSTANCE});
    say(T.sent, "ok");
    window.scrollTo(0, 0);
  } else {
    if (r.offline) await keep({id: id, url: data.submit, parts: parts, at: Date.now()}).catch(() => {});
    say(r.message, "error");
  }
}

function fetchFormAttachment(url) {
  const name = decodeURIComponent(String(url.pathname || url.href).split("/").pop());
  return fetch(data.media.replace("NAME", encodeURIComponent(name)),
               {credentials: "same-origin"});
}

async function start() {
  const resp = await fetch(data.formXml, {credentials: "same-origin"});
  if (!resp.ok) { say(T.offline, "error"); return; }
  const xml = await resp.text();
  const props = {formXml: xml, fetchFormAttachment: fetchFormAttachment, onSubmit: onSubmit,
                 trackDevice: true};
  if (data.username) props.preloadProperties = {username: data.username};
  const app = createApp({render: () => h(OdkWebForm, props)});
  app.use(webFormsPlugin);
  // PrimeVue's own words (the date picker's months, days, "Today"; empty lists).
  const primevue = app.config.globalProperties.$primevue.config;
  const locale = primevue.locale || {};
  primevue.locale = Object.assign({}, locale, data.primevue,
                                  {aria: Object.assign({}, locale.aria, data.primevue.aria)});
  app.mixin(soundMixin);
  root.textContent = "";
  // Before mounting: Web Forms' dialogs are teleported to <body>.
  new MutationObserver(translateChanges).observe(document.body,
    {childList: true, subtree: true, characterData: true, attributes: true,
     attributeFilter: ATTRIBUTES});
  app.mount(root);
  translate(document.body);
  await showKept();
  root.dataset.ready = "1";
}

start().catch(() => say(T.offline, "error"));
