/* Risk map: clusters of the sites in view, from /api/v1/map/sites with the list's filters.
 * No build step, no CDN: plain ES2017 over the vendored Leaflet.
 * Server data is text: Leaflet puts a string given to bindTooltip/bindPopup/divIcon into the page as
 * HTML, so every one of them gets a DOM node built with yingji.el (core/app.js), never a string. */
(function () {
  "use strict";
  var cfgEl = document.getElementById("map-config");
  var box = document.getElementById("site-map");
  if (!cfgEl || !box || typeof L === "undefined") { return; }
  var cfg = JSON.parse(cfgEl.textContent);
  var T = cfg.text || {};
  // Colour-blind-safe (after Okabe-Ito), far apart in lightness too: dark red, mid orange, light
  // yellow, dark blue. Colour is never the only cue: clusters carry the level's letter (红/橙/黄/蓝)
  // and a dark border, and the legend spells them out.
  var COLOURS = {red: "#a50f15", orange: "#e66100", yellow: "#f0e442", blue: "#0072b2", none: "#8a939c"};
  var INK = {red: "#fff", orange: "#fff", yellow: "#1a1a1a", blue: "#fff", none: "#fff"};
  var ORDER = ["red", "orange", "yellow", "blue", "none"];
  var form = document.getElementById("map-filters");
  var listLink = document.getElementById("map-list-link");
  var totalEl = document.getElementById("map-total");
  var unlocatedEl = document.getElementById("map-unlocated");
  var errorEl = document.getElementById("map-error");
  var filtersBox = document.getElementById("map-filters-box");

  function LETTER(k) { return (T["letter_" + k] || "").slice(0, 1); }

  function fmt(template, n) { return String(template || "").replace("%(n)s", Number(n).toLocaleString("zh-CN")); }

  var map = L.map(box, {preferCanvas: true, minZoom: 3, maxZoom: 19, worldCopyJump: false});
  map.attributionControl.setPrefix(false);
  (cfg.tiles || []).forEach(function (t) {
    // Leaflet's attribution is HTML: the configured text is escaped.
    L.tileLayer(t.url, {subdomains: t.subdomains || "abc", attribution: yingji.escape(t.attribution || ""), maxZoom: 19,
      maxNativeZoom: 18}).addTo(map);
  });
  map.setView([cfg.view.lat, cfg.view.lng], cfg.view.zoom);
  var el = yingji.el;

  // Base layer without tiles: town names at their centres (no boundary polygons are held).
  var towns = L.layerGroup().addTo(map);
  (cfg.towns || []).forEach(function (t) {
    var label = el("span", {"class": "town-name"}, t.name);
    towns.addLayer(L.marker([t.lat, t.lng], {
      icon: L.divIcon({className: "town-label", html: label, iconSize: null}),
      interactive: false, keyboard: false, zIndexOffset: -1000
    }));
  });

  var layer = L.layerGroup().addTo(map);

  // Legend: a Leaflet control built from DOM nodes.
  var Legend = L.Control.extend({
    options: {position: "bottomright"},
    onAdd: function () {
      var div = el("div", {"class": "map-legend", "data-testid": "map-legend"});
      div.appendChild(el("strong", {}, T.legend || ""));
      ORDER.forEach(function (k) {
        var row = el("div", {"class": "map-legend-row", "data-colour": k});
        var sw = el("span", {"class": "map-legend-swatch"}, LETTER(k));
        sw.style.background = COLOURS[k];
        sw.style.color = INK[k];
        row.appendChild(sw);
        row.appendChild(el("span", {}, T[k] || k));
        div.appendChild(row);
      });
      if (cfg.towns && cfg.towns.length) {
        var tr = el("div", {"class": "map-legend-row"});
        tr.appendChild(el("span", {"class": "town-name"}, T.town_sample || ""));
        tr.appendChild(el("span", {}, T.town || ""));
        div.appendChild(tr);
      }
      L.DomEvent.disableClickPropagation(div);
      return div;
    }
  });
  new Legend().addTo(map);

  if (filtersBox && window.matchMedia && window.matchMedia("(max-width: 640px)").matches) {
    filtersBox.open = false;
  }
  if (filtersBox) {
    filtersBox.addEventListener("toggle", function () { map.invalidateSize(); });
  }

  function filterParams() {
    var params = new URLSearchParams();
    if (!form) { return params; }
    new FormData(form).forEach(function (value, key) {
      if (typeof value === "string" && value.trim() !== "") { params.append(key, value.trim()); }
    });
    return params;
  }

  function clamp(v, lo, hi) { return Math.max(lo, Math.min(hi, v)); }

  function syncLinks(params) {
    var qs = params.toString();
    if (listLink) { listLink.href = cfg.list_url + (qs ? "?" + qs : ""); }
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", window.location.pathname + (qs ? "?" + qs : ""));
    }
  }

  function clusterPopup(c) {
    var wrap = el("div", {"class": "map-popup"});
    wrap.appendChild(el("strong", {}, Number(c.count).toLocaleString("zh-CN") + " " + (T.sites || "")));
    var table = el("table");
    ORDER.forEach(function (k) {
      var n = (c.colours || {})[k] || 0;
      if (!n) { return; }
      var tr = el("tr");
      var dot = el("td");
      var swatch = el("span", {"class": "swatch"});
      swatch.style.background = COLOURS[k];
      dot.appendChild(swatch);
      tr.appendChild(dot);
      tr.appendChild(el("td", {}, T[k] || k));
      tr.appendChild(el("td", {}, String(n)));
      table.appendChild(tr);
    });
    wrap.appendChild(table);
    var zoom = el("button", {type: "button", "class": "link"}, T.zoom_in || "+");
    zoom.addEventListener("click", function () {
      map.setView([c.lat, c.lng], Math.min(map.getZoom() + 2, map.getMaxZoom()));
    });
    wrap.appendChild(zoom);
    return wrap;
  }

  function pointPopup(p) {
    var wrap = el("div", {"class": "map-popup"});
    var a = el("a", {href: p.url}, p.name);
    wrap.appendChild(a);
    wrap.appendChild(el("div", {"class": "muted"}, T[p.colour] || p.colour));
    return wrap;
  }

  function draw(data) {
    layer.clearLayers();
    (data.clusters || []).forEach(function (c) {
      var size = Math.round(clamp(22 + 9 * Math.log10(c.count), 24, 64));
      var count = Number(c.count) || 0;
      var key = COLOURS[c.colour] ? c.colour : "none";
      var badge = el("div", {}, count >= 10000 ? Math.round(count / 1000) + "k" : String(count));
      badge.style.background = COLOURS[key];
      badge.style.color = INK[key];
      badge.setAttribute("data-colour", key);
      var letter = LETTER(key);
      if (letter) { badge.appendChild(el("i", {"class": "cluster-letter"}, letter)); }
      var icon = L.divIcon({
        className: "cluster-icon " + key,
        html: badge,
        iconSize: [size, size]
      });
      var m = L.marker([c.lat, c.lng], {icon: icon, keyboard: true, title: String(c.count)});
      m.bindPopup(function () { return clusterPopup(c); });
      layer.addLayer(m);
    });
    (data.points || []).forEach(function (p) {
      var m = L.circleMarker([p.lat, p.lng], {radius: 7, weight: 2, color: "#1a1a1a", fillOpacity: 0.95,
        fillColor: COLOURS[p.colour] || COLOURS.none});
      m.bindPopup(function () { return pointPopup(p); });
      m.bindTooltip(el("span", {}, p.name));
      layer.addLayer(m);
    });
    if (totalEl) {
      var text = fmt(T.total, data.total || 0);
      // Wide views are added up from cells counted every few minutes: say as of when.
      var asOf = data.as_of ? new Date(data.as_of) : null;
      if (asOf && !isNaN(asOf) && Date.now() - asOf.getTime() > 60000) {
        var hm = ("0" + asOf.getHours()).slice(-2) + ":" + ("0" + asOf.getMinutes()).slice(-2);
        text += " " + String(T.as_of || "").replace("%(t)s", hm);
      }
      totalEl.textContent = text;
    }
  }

  var timer = null;
  var inflight = null;
  var seq = 0;
  var countedFor = null;   // the filters the shown "unlocated" count belongs to

  function load() {
    var params = filterParams();
    syncLinks(params);
    var filterKey = params.toString();
    if (filterKey === countedFor) { params.set("with_unlocated", "0"); }
    var b = map.getBounds();
    var w = clamp(b.getWest(), -180, 180), e = clamp(b.getEast(), -180, 180);
    var s = clamp(b.getSouth(), -90, 90), n = clamp(b.getNorth(), -90, 90);
    if (!(w < e && s < n)) { return; }
    params.set("bbox", [w, s, e, n].map(function (v) { return v.toFixed(6); }).join(","));
    params.set("zoom", String(map.getZoom()));
    if (inflight && inflight.abort) { inflight.abort(); }
    inflight = window.AbortController ? new AbortController() : null;
    var mine = ++seq;
    if (errorEl) { errorEl.textContent = ""; }
    fetch(cfg.api + "?" + params.toString(), {credentials: "same-origin", headers: {Accept: "application/json"},
      signal: inflight ? inflight.signal : undefined})
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) { return {ok: resp.ok, body: body}; });
      })
      .then(function (r) {
        if (mine !== seq) { return; }
        if (!r.ok) {
          layer.clearLayers();
          countedFor = null;
          if (errorEl) { errorEl.textContent = (r.body && r.body.message) || T.failed || ""; }
          return;
        }
        draw(r.body);
        if (r.body.unlocated !== null && r.body.unlocated !== undefined) {
          countedFor = filterKey;
          if (unlocatedEl) { unlocatedEl.textContent = r.body.unlocated ? fmt(T.unlocated, r.body.unlocated) : ""; }
        }
      })
      .catch(function (err) {
        if (err && err.name === "AbortError") { return; }
        if (errorEl && mine === seq) { errorEl.textContent = T.failed || ""; }
      });
  }

  function schedule(delay) {
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(load, delay === undefined ? 300 : delay);
  }

  map.on("moveend", function () { schedule(); });
  if (form) {
    form.addEventListener("submit", function (ev) { ev.preventDefault(); schedule(0); });
    form.addEventListener("change", function (ev) {
      if (ev.target && ev.target.name === "area" && ev.target.value && cfg.areas && cfg.areas[ev.target.value]) {
        var a = cfg.areas[ev.target.value];
        map.setView([a[0], a[1]], a[2]);   // moveend reloads
        return;
      }
      schedule();
    });
    form.addEventListener("input", function (ev) {
      if (ev.target && ev.target.name === "q") { schedule(600); }
    });
  }
  schedule(0);
})();
