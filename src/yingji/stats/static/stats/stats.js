/* Charts of the figures page (ECharts, vendored). The numbers come from the page itself
   (json_script "stats-chart-data"), the same ones the tables show. Names (areas, sectors, …) are
   server data: ECharts tooltips are HTML, so they use the escaping formatters of core/app.js
   (yingji.tooltip); labels, legends and axes are drawn on the canvas as text. */
(function () {
  "use strict";
  var node = document.getElementById("stats-chart-data");
  if (!node || typeof echarts === "undefined") { return; }
  var d = JSON.parse(node.textContent);
  var L = d.labels || {};
  var charts = [];
  var byId = {};
  var small = window.matchMedia && window.matchMedia("(max-width: 640px)").matches;

  /* A category axis of n names: every name labelled (interval 0), and the chart tall enough for them. */
  function fitRows(el, n) {
    var height = Math.max(280, n * 26 + 70);
    if (height > el.clientHeight) { el.style.height = height + "px"; }
  }
  function draw(id, option, hasData) {
    var el = document.getElementById(id);
    if (!el) { return; }
    if (!hasData) {
      el.textContent = L.empty || "";
      el.style.height = "auto";
      el.className += " muted";
      return;
    }
    var chart = echarts.init(el, null, { renderer: "canvas" });
    chart.setOption(option);
    charts.push(chart);
    byId[el.getAttribute("data-chart") || id] = chart;
  }
  function sum(list) { return (list || []).reduce(function (a, b) { return a + (b || 0); }, 0); }
  function pie(data) {
    return {
      tooltip: { trigger: "item", formatter: yingji.tooltip.item },
      legend: { bottom: 0, type: "scroll" },
      series: [{ type: "pie", radius: small ? ["30%", "60%"] : ["35%", "65%"], center: ["50%", "45%"],
                 data: data, label: { formatter: "{b}\n{c}" } }]
    };
  }
  var grid = { left: 40, right: 40, top: 40, bottom: 30, containLabel: true };

  draw("chart-month", {
    tooltip: { trigger: "axis", formatter: yingji.tooltip.axis },
    legend: { top: 0 },
    grid: grid,
    xAxis: { type: "category", data: d.months, axisLabel: { interval: 0, rotate: d.months.length > 6 ? 45 : 0 } },
    yAxis: [{ type: "value", minInterval: 1 }, { type: "value", max: 100, axisLabel: { formatter: "{value}%" } }],
    series: [
      { name: L.found, type: "bar", data: d.found },
      { name: L.closed, type: "bar", data: d.closed },
      { name: L.rate, type: "line", yAxisIndex: 1, data: d.rate, connectNulls: true }
    ]
  }, sum(d.found) > 0);

  var areaEl = document.getElementById("chart-area");
  if (areaEl) { fitRows(areaEl, (d.areas || []).length); }
  var sectorEl = document.getElementById("chart-sector");
  if (sectorEl) { fitRows(sectorEl, (d.sector || []).length); }

  draw("chart-area", {
    tooltip: { trigger: "axis", formatter: yingji.tooltip.axis },
    legend: { top: 0 },
    grid: grid,
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: d.areas, inverse: true, axisLabel: { interval: 0 } },
    series: [
      { name: L.found, type: "bar", data: d.area_found },
      { name: L.closed, type: "bar", data: d.area_closed }
    ]
  }, sum(d.area_found) > 0);

  draw("chart-state", pie(d.state), d.state.length > 0);
  draw("chart-level", {
    tooltip: { trigger: "item", formatter: yingji.tooltip.item },
    legend: { bottom: 0, type: "scroll" },
    series: [
      { type: "pie", radius: ["0%", "35%"], center: ["50%", "45%"], data: d.level, label: { position: "inner" } },
      { type: "pie", radius: ["45%", "65%"], center: ["50%", "45%"], data: d.source }
    ]
  }, d.level.length > 0);
  draw("chart-sector", {
    tooltip: { trigger: "axis", formatter: yingji.tooltip.axis },
    grid: grid,
    xAxis: { type: "value", minInterval: 1 },
    yAxis: { type: "category", data: d.sector.map(function (x) { return x.name; }), inverse: true,
             axisLabel: { interval: 0 } },
    series: [{ name: L.found, type: "bar", data: d.sector.map(function (x) { return x.value; }) }]
  }, d.sector.length > 0);
  draw("chart-mode", pie(d.mode), d.mode.length > 0);
  draw("chart-insp-month", {
    tooltip: { trigger: "axis", formatter: yingji.tooltip.axis },
    legend: { top: 0 },
    grid: grid,
    xAxis: { type: "category", data: d.insp_months,
             axisLabel: { interval: 0, rotate: d.insp_months.length > 6 ? 45 : 0 } },
    yAxis: { type: "value", minInterval: 1 },
    series: [
      { name: L.inspections, type: "bar", data: d.insp_count },
      { name: L.hazards_found, type: "line", data: d.insp_hazards }
    ]
  }, sum(d.insp_count) > 0);

  /* "下载图片": the link gets the chart's PNG (a data: URL) just before the browser follows it. */
  Array.prototype.forEach.call(document.querySelectorAll("a[data-chart-png]"), function (link) {
    var chart = byId[link.getAttribute("data-chart-png")];
    if (!chart) { return; }
    link.hidden = false;
    link.addEventListener("click", function () {
      link.href = chart.getDataURL({ type: "png", pixelRatio: 2, backgroundColor: "#fff" });
    });
  });
  window.yingjiCharts = byId;  /* for tests and the console */

  window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
})();
