/* A campaign's progress by area (ECharts, vendored): the numbers come from the page itself
   (json_script "chart-data"), the same ones the table shows. Area names are server data: the
   tooltip escapes them (yingji.tooltip, core/app.js); the axis labels are drawn on the canvas. */
(function () {
  "use strict";
  var el = document.getElementById("progress-chart");
  var node = document.getElementById("chart-data");
  if (!el || !node || typeof echarts === "undefined") { return; }
  var data = JSON.parse(node.textContent);
  var chart = echarts.init(el);
  chart.setOption({
    tooltip: {trigger: "axis", formatter: yingji.tooltip.axis},
    legend: {top: 0},
    grid: {left: 40, right: 10, bottom: 60, top: 40},
    xAxis: {type: "category", data: data.labels, axisLabel: {rotate: data.labels.length > 4 ? 40 : 0}},
    yAxis: {type: "value", minInterval: 1},
    series: [
      {name: data.names.sites, type: "bar", data: data.sites},
      {name: data.names.inspected, type: "bar", data: data.inspected},
      {name: data.names.hazards, type: "bar", data: data.hazards}
    ]
  });
  window.addEventListener("resize", function () { chart.resize(); });
})();
