/* The staff desk: the case map (Leaflet, no tiles unless the installation has a tile server), cancel links of step forms,
   "use my position" for arriving on site. Everything else is htmx attributes in the templates.
   Texts come translated from the page (#desk-messages, cases/templatetags/desk_tags.py). */
(function () {
  "use strict";

  function tr(key, values) {
    var source = document.getElementById("desk-messages");
    var text = source ? JSON.parse(source.textContent)[key] || "" : "";
    return text.replace(/%\((\w+)\)s/g, function (all, name) {
      return values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : all;
    });
  }

  function initMap(el) {
    if (el._civicgridMap || !window.L) return;
    var source = document.getElementById(el.getAttribute("data-map"));
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var map = L.map(el, { attributionControl: !!data.attribution, scrollWheelZoom: false });
    // The installation's tile server (CIVICGRID_MAP_TILE_URL), if any; pin and outlines come in its datum.
    if (data.tiles) L.tileLayer(data.tiles, { attribution: data.attribution || "", maxZoom: 19 }).addTo(map);
    var bounds = L.latLngBounds([[data.lat, data.lng], [data.lat, data.lng]]);
    data.areas.forEach(function (area) {
      var grid = area.kind === "grid";
      var layer = L.geoJSON(area.geojson, {
        style: { color: grid ? "#c8102e" : "#1849a9", weight: grid ? 2 : 1.5, fillOpacity: grid ? 0.08 : 0.04, dashArray: grid ? null : "4 4" }
      }).bindTooltip(area.name).addTo(map);
      bounds.extend(layer.getBounds());
    });
    L.marker([data.lat, data.lng], { title: data.label }).addTo(map).bindPopup(data.label);
    map.fitBounds(bounds.pad(0.05), { maxZoom: 17 });
    el._civicgridMap = map;
  }

  function locateInto(form) {
    if (!navigator.geolocation) return;
    var status = form.querySelector("[data-locate-status]");
    if (status) status.textContent = tr("locating");
    navigator.geolocation.getCurrentPosition(function (pos) {
      // Browsers report WGS-84, which is what the case stores.
      form.querySelector("[name=lat]").value = pos.coords.latitude.toFixed(6);
      form.querySelector("[name=lng]").value = pos.coords.longitude.toFixed(6);
      if (status) status.textContent = tr("located", { m: Math.round(pos.coords.accuracy) });
    }, function () {
      if (status) status.textContent = tr("locateFailed");
    }, { enableHighAccuracy: true, timeout: 15000 });
  }

  // A long multi-select (the assisting units) gets a box above it: typing hides the units whose names do not
  // contain the text; chosen ones stay chosen, and stay in view.
  function initFilter(select) {
    if (select._civicgridFilter) return;
    var box = document.createElement("input");
    box.type = "search";
    box.className = "select-filter";
    box.placeholder = select.getAttribute("data-filter");
    box.setAttribute("aria-label", select.getAttribute("data-filter"));
    box.addEventListener("input", function () {
      var text = box.value.trim();
      select.querySelectorAll("option").forEach(function (option) {
        option.hidden = !!text && !option.selected && option.textContent.indexOf(text) === -1;
      });
      select.querySelectorAll("optgroup").forEach(function (group) {
        group.hidden = !group.querySelector("option:not([hidden])");
      });
    });
    select.parentNode.insertBefore(box, select);
    select._civicgridFilter = box;
  }

  function initAll(root) {
    (root || document).querySelectorAll("[data-map]").forEach(initMap);
    (root || document).querySelectorAll("select[data-filter]").forEach(initFilter);
    // A check-in form that opens without a position asks for one at once (not after a refusal,
    // which comes back with the position the person sent).
    (root || document).querySelectorAll("[data-locate-auto]").forEach(function (button) {
      var form = button.closest("form");
      var lat = form && form.querySelector("[name=lat]");
      if (lat && !lat.value) locateInto(form);
    });
  }

  document.addEventListener("DOMContentLoaded", function () { initAll(document); });
  document.addEventListener("htmx:load", function (event) { initAll(event.target); });

  document.addEventListener("click", function (event) {
    // A new step starts: the last step's "done" banner would stand beside this one's errors.
    if (event.target.closest("a.step[data-step]")) {
      document.querySelectorAll("#case-panel .flash").forEach(function (flash) { flash.remove(); });
    }
    var cancel = event.target.closest("[data-cancel]");
    var holder = cancel && cancel.closest("#step-form");
    if (holder) {
      event.preventDefault();
      holder.innerHTML = "";
      return;
    }
    var locate = event.target.closest("[data-locate]");
    if (locate) locateInto(locate.closest("form"));
  });
})();
