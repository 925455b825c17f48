/* The console's charts: every element with data-chart="ID" is drawn from the JSON in
   <script type="application/json" id="ID"> (put there by the server, escaped), with
   Apache ECharts, in the page's language, with ECharts' aria description on.
   A click on a Sankey flow or a heat-map cell loads that cell's customers with htmx. */
(function () {
  "use strict";
  var BG = {
    time: {
      month: ["Януари", "Февруари", "Март", "Април", "Май", "Юни", "Юли", "Август",
              "Септември", "Октомври", "Ноември", "Декември"],
      monthAbbr: ["Яну", "Фев", "Мар", "Апр", "Май", "Юни", "Юли", "Авг", "Сеп", "Окт",
                  "Ное", "Дек"],
      dayOfWeek: ["Неделя", "Понеделник", "Вторник", "Сряда", "Четвъртък", "Петък", "Събота"],
      dayOfWeekAbbr: ["Нд", "Пн", "Вт", "Ср", "Чт", "Пт", "Сб"]
    },
    legend: {selector: {all: "Всички", inverse: "Обратно"}},
    toolbox: {
      saveAsImage: {title: "Запази като изображение", lang: ["Десен бутон за запазване"]},
      dataView: {title: "Данни", lang: ["Данни", "Затвори", "Обнови"]}
    },
    series: {typeNames: {bar: "стълбовидна диаграма", line: "линейна диаграма",
                         sankey: "диаграма на Санки", heatmap: "топлинна карта",
                         funnel: "фуниеста диаграма", pie: "кръгова диаграма"}},
    aria: {
      general: {withTitle: "Диаграма „{title}“", withoutTitle: "Диаграма"},
      series: {single: {prefix: "", withName: " с тип {seriesType}, наречена {seriesName}.",
                        withoutName: " с тип {seriesType}."},
               multiple: {prefix: ". Съдържа {seriesCount} серии.",
                          withName: " Серия {seriesId} е {seriesType}, {seriesName}.",
                          withoutName: " Серия {seriesId} е {seriesType}.",
                          separator: {middle: "", end: ""}}},
      data: {allData: "Данни: ", partialData: "Първите {displayCnt} елемента: ",
             withName: "{name}: {value}", withoutName: "{value}",
             separator: {middle: ", ", end: ". "}}
    }
  };
  var registered = false;

  function locale() {
    var lang = document.body.getAttribute("data-lang");
    if (!registered && window.echarts) { echarts.registerLocale("BG", BG); registered = true; }
    return lang === "ru" ? "RU" : lang === "bg" ? "BG" : "EN";
  }

  function drill(spec, from, to) {
    var d = spec.drill;
    if (!d || !window.htmx) { return; }
    var url = d.url + "?by=" + encodeURIComponent(d.by) + "&from=" + d.from + "&to=" + d.to +
      "&a=" + encodeURIComponent(d.values[from]) + "&b=" + encodeURIComponent(d.values[to]);
    htmx.ajax("GET", url, {target: "#moved"});
  }

  function options(spec) {
    var base = {aria: {enabled: true}, animation: false, tooltip: {}};
    if (spec.type === "bar" || spec.type === "line") {
      return Object.assign(base, {
        tooltip: {trigger: "axis"}, legend: spec.series.length > 1 ? {top: 0} : undefined,
        grid: {left: 60, right: 20, top: spec.series.length > 1 ? 40 : 20, bottom: 40},
        xAxis: {type: "category", data: spec.categories},
        yAxis: {type: "value"},
        series: spec.series.map(function (s) {
          return {name: s.name, type: spec.type, data: s.data};
        })
      });
    }
    if (spec.type === "sankey") {
      var n = spec.names.length, nodes = [];
      spec.names_from.forEach(function (name) { nodes.push({name: spec.left + ": " + name}); });
      spec.names.forEach(function (name) { nodes.push({name: spec.right + ": " + name}); });
      return Object.assign(base, {
        aria: {enabled: true, label: {description: spec.description}},
        series: [{type: "sankey", data: nodes, emphasis: {focus: "adjacency"},
                  links: spec.links.map(function (l) {
                    return {source: nodes[l.source].name, target: nodes[n + l.target].name,
                            value: l.value, cell: [l.source, l.target]};
                  })}]
      });
    }
    if (spec.type === "heatmap") {
      var top = 0;
      spec.cells.forEach(function (c) { if (c[2] > top) { top = c[2]; } });
      return Object.assign(base, {
        grid: {left: 110, right: 20, top: 20, bottom: 70},
        xAxis: {type: "category", data: spec.columns, name: spec.xname,
                axisLabel: {rotate: 30}},
        yAxis: {type: "category", data: spec.rows, name: spec.yname, inverse: true},
        visualMap: {min: 0, max: top || 1, calculable: true, orient: "horizontal",
                    left: "center", bottom: 0, itemHeight: 80},
        series: [{type: "heatmap", data: spec.cells, label: {show: true}}]
      });
    }
    if (spec.type === "funnel") {
      return Object.assign(base, {
        series: [{type: "funnel", sort: "none", left: "10%", width: "80%",
                  label: {show: true, formatter: "{b}: {c}"},
                  data: spec.names.map(function (name, i) {
                    return {name: name, value: spec.values[i]};
                  })}]
      });
    }
    return base;
  }

  function draw(root) {
    if (!window.echarts) { return; }
    (root || document).querySelectorAll("[data-chart]").forEach(function (el) {
      if (el.getAttribute("data-drawn")) { return; }
      var data = document.getElementById(el.getAttribute("data-chart"));
      if (!data) { return; }
      var spec = JSON.parse(data.textContent);
      var chart = echarts.init(el, null, {locale: locale(), renderer: "svg"});
      chart.setOption(options(spec));
      el.setAttribute("data-drawn", "1");
      if (spec.drill) {
        chart.on("click", function (e) {
          if (spec.type === "sankey" && e.dataType === "edge") {
            drill(spec, e.data.cell[0], e.data.cell[1]);
          } else if (spec.type === "heatmap") {
            drill(spec, e.data[1], e.data[0]);
          }
        });
      }
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSwap", function (e) { draw(e.target); });
})();
