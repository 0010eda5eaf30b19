/* Civic Grid snapshot report: the resident report page. Plain JS, no framework.
 *
 * - Photos are shrunk on the phone (longest side 1600 px, JPEG) before they are sent or saved.
 * - Every report gets an idempotency key when it is made; a report that could not be sent stays in
 *   localStorage ("cg-pending") and is sent again on the `online` event or the next visit. The server
 *   answers a repeat of the same key and body with the same case, so a retry never files twice.
 * - The map draws the grids from our own GeoJSON; tiles only when the installation configures them.
 * - Its texts come translated from the page (#report-messages, intake.views.report_messages); tr()
 *   fills their %(name)s placeholders.
 */
(function () {
  "use strict";
  var app = document.getElementById("report-app");
  if (!app) return;
  var $ = function (id) { return document.getElementById(id); };
  var categories = JSON.parse($("categories").textContent);
  var mapSettings = JSON.parse($("map-settings").textContent);
  var messages = JSON.parse($("report-messages").textContent);
  var PENDING = "cg-pending", MINE = "cg-my-reports", MAX_PHOTOS = 5, MAX_SIDE = 1600;
  var state = { category: null, lat: null, lng: null, coord: "wgs84", source: "", photos: [], key: newKey() };

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "k" + Date.now().toString(36) + Math.random().toString(36).slice(2);
  }
  function tr(key, values) {
    return messages[key].replace(/%\((\w+)\)s/g, function (all, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }
  function csrf() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function load(name) { try { return JSON.parse(localStorage.getItem(name) || "[]"); } catch (e) { return []; } }
  function save(name, list) {
    try { localStorage.setItem(name, JSON.stringify(list)); return true; } catch (e) { return false; }
  }
  function showError(message) { $("form-error").textContent = message || ""; }

  /* --- categories ---------------------------------------------------------------------------- */
  function renderCategories(filter) {
    var list = $("cat-list"), q = (filter || "").trim().toLowerCase();
    list.textContent = "";
    categories.filter(function (c) {
      return !q || (c.name + c.group + c.keywords + c.description).toLowerCase().indexOf(q) >= 0;
    }).forEach(function (c) {
      var b = el("button", { type: "button", role: "option", "data-code": c.code,
        "aria-selected": state.category && state.category.code === c.code ? "true" : "false" }, c.name);
      if (c.group) b.appendChild(el("small", {}, c.group));
      b.addEventListener("click", function () { chooseCategory(c); });
      list.appendChild(b);
    });
  }
  function chooseCategory(c) {
    state.category = c;
    $("cat-chosen").textContent = tr("chosen", { category: (c.group ? c.group + " / " : "") + c.name });
    renderCategories($("cat-search").value);
    $("anon-wrap").hidden = !c.anonymous;
    if (!c.anonymous) $("anonymous").checked = false;
    renderAttributes(c.attributes || []);
    findSimilar();
  }
  function renderAttributes(attrs) {
    var box = $("attributes");
    box.textContent = "";
    attrs.forEach(function (a) {
      if (a.variable === false) { box.appendChild(el("p", { class: "muted" }, a.description)); return; }
      var id = "attr-" + a.code, p = el("p", { class: "field" });
      p.appendChild(el("label", { for: id }, a.required ? tr("required", { label: a.description }) : a.description));
      var input;
      if (a.datatype === "singlevaluelist" || a.datatype === "multivaluelist") {
        input = el("select", { id: id, "data-attr": a.code });
        if (a.datatype === "multivaluelist") input.multiple = true; else input.appendChild(el("option", { value: "" }, "—"));
        (a.values || []).forEach(function (v) { input.appendChild(el("option", { value: v.key }, v.name)); });
      } else if (a.datatype === "text") {
        input = el("textarea", { id: id, rows: "2", "data-attr": a.code });
      } else {
        input = el("input", { id: id, "data-attr": a.code, type: a.datatype === "number" ? "number" : (a.datatype === "datetime" ? "datetime-local" : "text") });
      }
      p.appendChild(input);
      box.appendChild(p);
    });
  }
  function attributeValues() {
    var out = {};
    Array.prototype.forEach.call(document.querySelectorAll("[data-attr]"), function (i) {
      if (i.multiple) out[i.dataset.attr] = Array.prototype.filter.call(i.options, function (o) { return o.selected; }).map(function (o) { return o.value; });
      else if (i.value) out[i.dataset.attr] = i.value;
    });
    return out;
  }
  $("cat-search").addEventListener("input", function (e) { renderCategories(e.target.value); });
  renderCategories("");

  /* --- photos -------------------------------------------------------------------------------- */
  function shrink(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file), img = new Image();
      img.onload = function () {
        var scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
        var canvas = document.createElement("canvas");
        canvas.width = Math.round(img.naturalWidth * scale);
        canvas.height = Math.round(img.naturalHeight * scale);
        canvas.getContext("2d").drawImage(img, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        resolve({ name: file.name.replace(/\.[^.]+$/, "") + ".jpg", data: canvas.toDataURL("image/jpeg", 0.85) });
      };
      img.onerror = function () {
        URL.revokeObjectURL(url);
        // Not decodable here (e.g. HEIC on some phones): send it as it is and let the server decide.
        var reader = new FileReader();
        reader.onload = function () { resolve({ name: file.name, data: reader.result }); };
        reader.onerror = reject;
        reader.readAsDataURL(file);
      };
      img.src = url;
    });
  }
  function renderPreviews() {
    var box = $("previews");
    box.textContent = "";
    state.photos.forEach(function (p, i) {
      var fig = el("figure");
      var isImage = /^data:image\/(jpeg|png|webp)/.test(p.data);
      fig.appendChild(isImage ? el("img", { src: p.data, alt: tr("photoAlt", { n: i + 1 }) }) : el("span", {}, p.name));
      var rm = el("button", { type: "button", "aria-label": tr("removePhoto") }, "×");
      rm.addEventListener("click", function () { state.photos.splice(i, 1); renderPreviews(); });
      fig.appendChild(rm);
      box.appendChild(fig);
    });
  }
  $("photos").addEventListener("change", function (e) {
    var files = Array.prototype.slice.call(e.target.files || []);
    if (state.photos.length + files.length > MAX_PHOTOS) showError(tr("tooManyPhotos", { n: MAX_PHOTOS }));
    files = files.slice(0, Math.max(0, MAX_PHOTOS - state.photos.length));
    Promise.all(files.map(shrink)).then(function (list) {
      state.photos = state.photos.concat(list);
      renderPreviews();
      e.target.value = "";
    }).catch(function () { showError(tr("photoUnreadable")); });
  });

  /* --- map and place ------------------------------------------------------------------------- */
  var map = null, pin = null;
  function setPlace(lat, lng, coord, source) {
    state.lat = lat; state.lng = lng; state.coord = coord; state.source = source;
    $("place-text").textContent = tr(source === "gps" ? "placeGps" : "placePin", { place: lat.toFixed(5) + ", " + lng.toFixed(5) });
    if (map && window.L) {
      if (pin) pin.setLatLng([lat, lng]); else pin = L.circleMarker([lat, lng], { radius: 8, className: "pin" }).addTo(map);
    }
    findSimilar();
  }
  function initMap() {
    if (!window.L) return;
    map = L.map("map", { zoomControl: true, attributionControl: !!mapSettings.attribution }).setView([26, 105], 13);
    if (mapSettings.tiles) L.tileLayer(mapSettings.tiles, { attribution: mapSettings.attribution || "", maxZoom: 19 }).addTo(map);
    fetch(mapSettings.areas).then(function (r) { return r.json(); }).then(function (geo) {
      var layer = L.geoJSON(geo, {
        style: function (f) {
          return f.properties.kind === "grid" ? { color: "#c8102e", weight: 1, fillOpacity: 0.04 } : { color: "#667085", weight: 2, fill: false };
        },
        onEachFeature: function (f, l) { l.bindTooltip(f.properties.name, { sticky: true }); }
      }).addTo(map);
      if (layer.getBounds().isValid() && state.lat === null) map.fitBounds(layer.getBounds());
      var select = $("community");
      geo.features.filter(function (f) { return f.properties.kind === "community"; }).forEach(function (f) {
        select.appendChild(el("option", { value: f.properties.code }, f.properties.name));
      });
    }).catch(function () {});
    // Room for later layers (service points …): each is a GeoJSON endpoint drawn as an overlay.
    (mapSettings.layers || []).forEach(function (spec) {
      fetch(spec.url).then(function (r) { return r.json(); }).then(function (geo) { L.geoJSON(geo).addTo(map); }).catch(function () {});
    });
    map.on("click", function (e) { setPlace(e.latlng.lat, e.latlng.lng, mapSettings.tileCoord || "wgs84", "pin"); });
  }
  $("locate").addEventListener("click", function () {
    if (!navigator.geolocation) { showError(tr("noGeolocation")); return; }
    navigator.geolocation.getCurrentPosition(function (p) {
      // Browsers give WGS-84; the map shows it as is unless its tiles are GCJ-02 (then the pin is off
      // by the GCJ offset on screen, but the stored point is right).
      setPlace(p.coords.latitude, p.coords.longitude, "wgs84", "gps");
      if (map) map.setView([p.coords.latitude, p.coords.longitude], 16);
    }, function () { showError(tr("locateFailed")); }, { enableHighAccuracy: true, timeout: 10000 });
  });

  /* --- near duplicates ------------------------------------------------------------------------- */
  var similarTimer = null;
  function findSimilar() {
    clearTimeout(similarTimer);
    if (!state.category || state.lat === null) { $("similar").hidden = true; return; }
    similarTimer = setTimeout(function () {
      var q = "?category=" + encodeURIComponent(state.category.code) + "&lat=" + state.lat + "&lng=" + state.lng + "&coord=" + state.coord;
      fetch(app.dataset.similar + q).then(function (r) { return r.json(); }).then(function (data) {
        var list = $("similar-list");
        list.textContent = "";
        (data.items || []).forEach(function (item) {
          var li = el("li");
          li.appendChild(el("strong", {}, item.summary));
          li.appendChild(el("div", { class: "muted small" }, item.number + " · " + item.status + " · " + tr("distance", { m: item.distance_m }) + " · " + item.created_at));
          var b = el("button", { type: "button", class: "follow" }, tr("followToo"));
          b.addEventListener("click", function () { follow(item.number, b); });
          li.appendChild(b);
          list.appendChild(li);
        });
        $("similar").hidden = !(data.items || []).length;
      }).catch(function () {});
    }, 300);
  }
  function follow(number, button) {
    var body = new FormData();
    body.append("number", number);
    body.append("phone", $("phone").value);
    button.disabled = true;
    fetch(app.dataset.follow, { method: "POST", body: body, headers: { "X-CSRFToken": csrf() }, credentials: "same-origin" })
      .then(function (r) { return r.json().then(function (d) { return { ok: r.ok, data: d }; }); })
      .then(function (res) {
        if (!res.ok) { button.disabled = false; showError(res.data.error.message); return; }
        remember(res.data.number, res.data.code, res.data.url);
        done(res.data.number, res.data.code, res.data.url, tr("followed"));
      }).catch(function () { button.disabled = false; showError(tr("offline")); });
  }

  /* --- submitting, offline queue ------------------------------------------------------------- */
  function collect() {
    var f = $("report-form");
    return {
      key: state.key,
      fields: {
        description: f.description.value, category: state.category ? state.category.code : "",
        type: f.type.value, lat: state.lat === null ? "" : String(state.lat), lng: state.lng === null ? "" : String(state.lng),
        coord: state.coord, location_source: state.source, address: f.address.value, community: f.community.value,
        name: f.name.value, phone: f.phone.value, anonymous: f.anonymous.checked ? "1" : "",
        on_behalf: f.on_behalf && f.on_behalf.checked ? "1" : "", website: f.website.value,
        attributes: JSON.stringify(attributeValues())
      },
      photos: state.photos.slice()
    };
  }
  function toBlob(dataUrl) {
    var parts = dataUrl.split(","), mime = parts[0].match(/:(.*?);/)[1], bin = atob(parts[1]);
    var bytes = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    return new Blob([bytes], { type: mime });
  }
  var inFlight = {};
  function send(report) {
    // One request per report at a time: the submit button, the online event and a page load may
    // all want to send it; the others wait for the first answer.
    if (inFlight[report.key]) return inFlight[report.key];
    var body = new FormData();
    Object.keys(report.fields).forEach(function (k) { body.append(k, report.fields[k]); });
    body.append("idempotency_key", report.key);
    report.photos.forEach(function (p) { body.append("photos", toBlob(p.data), p.name); });
    var request = fetch(app.dataset.submit, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "X-CSRFToken": csrf(), "Idempotency-Key": report.key }
    }).then(function (r) { return r.json().then(function (d) { return { status: r.status, data: d }; }); });
    inFlight[report.key] = request;
    var clear = function () { delete inFlight[report.key]; };
    request.then(clear, clear);
    return request;
  }
  function dropPending(key) { save(PENDING, load(PENDING).filter(function (p) { return p.key !== key; })); }
  function remember(number, code, url) {
    var mine = load(MINE).filter(function (m) { return m.number !== number; });
    mine.unshift({ number: number, code: code, url: url, at: new Date().toISOString() });
    save(MINE, mine.slice(0, 20));
    renderMine();
  }
  function renderMine() {
    var mine = load(MINE), box = $("device-reports");
    box.hidden = !mine.length;
    var ul = box.querySelector("ul");
    ul.textContent = "";
    mine.forEach(function (m) {
      var li = el("li");
      li.appendChild(el("a", { href: m.url }, m.number));
      li.appendChild(document.createTextNode(" " + tr("deviceCode", { code: m.code })));
      ul.appendChild(li);
    });
  }
  function renderPending() {
    var n = load(PENDING).length, box = $("pending");
    box.hidden = !n;
    box.textContent = n ? tr("pending", { n: n }) : "";
  }
  function done(number, code, url, status) {
    $("done-code").textContent = code;
    $("done-number").textContent = number;
    $("done-status").textContent = status || "";
    $("done-link").href = url;
    $("step-form").hidden = true;
    $("step-done").hidden = false;
    window.scrollTo(0, 0);
  }
  var flushing = null;
  function flushPending() {
    if (flushing) return flushing;
    var queue = load(PENDING);
    if (!queue.length || !navigator.onLine) { renderPending(); return Promise.resolve(); }
    flushing = queue.reduce(function (chain, report) {
      return chain.then(function () {
        return send(report).then(function (res) {
          if (res.status === 200 || res.status === 201) {
            dropPending(report.key);
            remember(res.data.number, res.data.code, res.data.url);
          } else if (res.status >= 400 && res.status < 500 && res.status !== 429) {
            dropPending(report.key);  // the server refused it: retrying will not help
          }
        }).catch(function () {});
      });
    }, Promise.resolve()).then(function () { flushing = null; renderPending(); });
    return flushing;
  }
  $("report-form").addEventListener("submit", function (e) {
    e.preventDefault();
    showError("");
    var report = collect();
    if (!report.fields.category) { showError(tr("needCategory")); return; }
    if (!report.fields.description.trim()) { showError(tr("needDescription")); return; }
    if (!report.fields.lat && !report.fields.community && !report.fields.address) { showError(tr("needPlace")); return; }
    var queued = load(PENDING).filter(function (p) { return p.key !== report.key; });
    queued.push(report);
    var stored = save(PENDING, queued);
    var button = $("submit");
    button.disabled = true;
    button.textContent = tr("submitting");
    send(report).then(function (res) {
      button.disabled = false;
      button.textContent = tr("submit");
      if (res.status === 200 || res.status === 201) {
        dropPending(report.key);
        remember(res.data.number, res.data.code, res.data.url);
        done(res.data.number, res.data.code, res.data.url, res.data.status);
        state.key = newKey();
      } else {
        if (res.status !== 429 && res.status < 500) dropPending(report.key);
        showError((res.data.error && res.data.error.message) || tr("submitFailed"));
      }
      renderPending();
    }).catch(function () {
      button.disabled = false;
      button.textContent = tr("submit");
      showError(stored ? tr("savedOffline") : tr("notSaved"));
      renderPending();
    });
  });
  $("copy").addEventListener("click", function () {
    var code = $("done-code").textContent;
    if (navigator.clipboard) navigator.clipboard.writeText(code).then(function () { $("copy").textContent = tr("copied"); });
  });
  if ($("on_behalf")) $("on_behalf").addEventListener("change", function (e) {
    $("anonymous").checked = false;
    $("anon-wrap").hidden = e.target.checked;
  });
  $("anonymous").addEventListener("change", function (e) { $("contact").hidden = e.target.checked; });

  window.addEventListener("online", flushPending);
  window.addEventListener("load", function () { initMap(); flushPending(); });
  renderMine();
  renderPending();
  window.CivicGridReport = { state: state, flush: flushPending, setPlace: setPlace };
})();
