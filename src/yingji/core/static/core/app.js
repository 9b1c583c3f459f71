/* The shared behaviour of every page (loaded by core/base.html; no build step, plain ES5).
 *
 * THE RULE: server data is text. Put it into the page with yingji.text(el, s) or build nodes
 * with yingji.el(tag, attrs, text) (textContent, never innerHTML). Where a library only takes an
 * HTML string (ECharts tooltip formatters, Leaflet attribution), every server value goes through
 * yingji.escape(s). The Content-Security-Policy (script-src 'self', no 'unsafe-inline') means no
 * inline <script> and no on*= attribute either: behaviour hangs on data- attributes handled here.
 *
 *   <form data-confirm="确定…?">          asks before submitting (irreversible actions)
 *   <p data-geolocate data-geo-…="…">     fills the form's latitude/longitude[/gps_accuracy]
 *   nav.main details.menu                  drop-down menus close on a click elsewhere
 */
(function () {
  "use strict";

  var ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;"};

  function escape(s) {
    return String(s === null || s === undefined ? "" : s).replace(/[&<>"'`]/g, function (c) { return ESCAPES[c]; });
  }

  function text(node, s) {
    node.textContent = s === null || s === undefined ? "" : String(s);
    return node;
  }

  function el(tag, attrs, content) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (/^on/i.test(k)) { throw new Error("yingji.el: no event-handler attributes (" + k + ")"); }
      node.setAttribute(k, attrs[k]);
    });
    if (content !== undefined) { text(node, content); }
    return node;
  }

  /* ECharts tooltips render HTML: these formatters escape every name and value. */
  function chartValue(v) {
    if (v === null || v === undefined || v === "-") { return "-"; }
    if (typeof v === "number") { return v.toLocaleString("zh-CN"); }
    if (typeof v === "object" && !Array.isArray(v) && "value" in v) { return chartValue(v.value); }
    return escape(v);
  }
  var tooltip = {
    item: function (p) {
      var s = escape(p.name) + ": " + chartValue(p.value);
      if (typeof p.percent === "number") { s += " (" + escape(p.percent) + "%)"; }
      return s;
    },
    axis: function (list) {
      list = Array.isArray(list) ? list : [list];
      if (!list.length) { return ""; }
      var rows = [escape(list[0].axisValueLabel !== undefined ? list[0].axisValueLabel : list[0].name)];
      list.forEach(function (p) {
        // p.marker is ECharts' own coloured dot (its colour comes from our options, not the server)
        rows.push((typeof p.marker === "string" ? p.marker : "") + escape(p.seriesName) + ": " + chartValue(p.value));
      });
      return rows.join("<br>");
    }
  };

  window.yingji = {escape: escape, text: text, el: el, tooltip: tooltip};

  /* <form data-confirm="…">: ask before an irreversible submit. Capture phase, so it runs before
     any other submit handler (htmx's included). */
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var message = form && form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      ev.preventDefault();
      ev.stopImmediatePropagation();
    }
  }, true);

  /* Drop-down menus of the navigation bar close when the user clicks elsewhere. */
  document.addEventListener("click", function (ev) {
    document.querySelectorAll("nav.main details[open]").forEach(function (d) {
      if (!d.contains(ev.target)) { d.removeAttribute("open"); }
    });
  });

  /* <p data-geolocate data-geo-unsupported="…" data-geo-ok="…" data-geo-failed="…" [data-geo-precise]>
     inside a form with inputs latitude, longitude (and optionally gps_accuracy): asks the browser
     for the position once and reports in the element. */
  function geolocate(status) {
    var form = status.closest("form") || document;
    var lat = form.querySelector("input[name=latitude]");
    var lng = form.querySelector("input[name=longitude]");
    var acc = form.querySelector("input[name=gps_accuracy]");
    if (!lat || !lng) { return; }
    if (!navigator.geolocation) { text(status, status.getAttribute("data-geo-unsupported")); return; }
    navigator.geolocation.getCurrentPosition(function (pos) {
      lat.value = pos.coords.latitude.toFixed(6);
      lng.value = pos.coords.longitude.toFixed(6);
      var msg = (status.getAttribute("data-geo-ok") || "") + ": " + lat.value + ", " + lng.value;
      if (acc) {
        acc.value = Math.round(pos.coords.accuracy || 0);
        msg += " (±" + acc.value + "m)";
      }
      text(status, msg);
    }, function () {
      text(status, status.getAttribute("data-geo-failed"));
    }, {enableHighAccuracy: status.hasAttribute("data-geo-precise"), timeout: 10000, maximumAge: 60000});
  }

  function ready() {
    document.querySelectorAll("[data-geolocate]").forEach(geolocate);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
})();
