// The dashboard's charts (Apache ECharts, vendored). Data comes from the page's JSON
// block; every bar, slice and point links to the project list behind it.
(function () {
  var source = document.getElementById("dashboard-data");
  if (!source || typeof echarts === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var STAGE_COLORS = {lead: "#6c757d", signed: "#0d6efd", started: "#fd7e14",
                      producing: "#198754", at_capacity: "#6f42c1"};
  var charts = [];

  function open(params) {
    if (params.data && params.data.url) { window.location.href = params.data.url; }
  }

  // ECharts shows what a tooltip formatter returns as HTML, and the names are typed by
  // users (units, industries, source regions; a ledger import creates them too).
  var escapeHTML = echarts.format.encodeHTML;

  function tooltip(params) {
    var d = params.data || {};
    var text = params.seriesName ? escapeHTML(params.seriesName) + " · " : "";
    return text + escapeHTML(params.name) + "：" + escapeHTML(params.value) +
      (d.amount !== undefined ? "（" + escapeHTML(d.amount) + "）" : "");
  }

  function stacked(spec, horizontal) {
    var category = {type: "category", data: spec.categories,
                    axisLabel: {interval: 0, rotate: horizontal ? 0 : 30}};
    var value = {type: "value", minInterval: 1};
    return {
      tooltip: {trigger: "item", formatter: tooltip, confine: true},
      legend: {top: 0, type: "scroll"},
      grid: {left: 8, right: 8, bottom: 8, top: 32, containLabel: true},
      xAxis: horizontal ? value : category,
      yAxis: horizontal ? category : value,
      series: spec.series.map(function (s) {
        return {name: s.name, type: "bar", stack: "stage", data: s.data,
                itemStyle: {color: STAGE_COLORS[s.stage]}, cursor: "pointer"};
      })
    };
  }

  var builders = {
    funnel: function (items) {
      return {
        tooltip: {trigger: "item", formatter: tooltip, confine: true},
        series: [{type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "20%",
                  label: {show: true, position: "inside",
                          formatter: function (p) { return p.name + " " + p.value; }},
                  data: items.map(function (d, i) {
                    return {name: d.name, value: d.value, amount: d.amount, url: d.url,
                            itemStyle: {color: Object.values(STAGE_COLORS)[i]}};
                  })}]
      };
    },
    monthly: function (spec) {
      return {
        tooltip: {trigger: "item", formatter: tooltip, confine: true},
        legend: {top: 0},
        grid: {left: 8, right: 8, bottom: 8, top: 32, containLabel: true},
        xAxis: {type: "category", data: spec.categories},
        yAxis: {type: "value", minInterval: 1},
        series: spec.series.map(function (s) {
          return {name: s.name, type: "bar", data: s.data,
                  itemStyle: {color: STAGE_COLORS[s.stage]}, cursor: "pointer"};
        })
      };
    },
    region: function (spec) { return stacked(spec, true); },
    industry: function (spec) { return stacked(spec, true); },
    unit: function (spec) { return stacked(spec, true); }
  };

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var name = el.dataset.chart;
    var chart = echarts.init(el, null, {renderer: "canvas"});
    chart.setOption(builders[name](data[name]));
    chart.on("click", open);
    el.dataset.rendered = "1";
    charts.push(chart);
  });
  window.addEventListener("resize", function () {
    charts.forEach(function (c) { c.resize(); });
  });
  window.dashboardCharts = charts;
})();
