/* Draw every plotly figure on the Usage tab from the JSON the server embedded beside it. */
(function () {
  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-plotly]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-plotly"));
      if (!source || el.classList.contains("js-plotly-plot")) return;
      var figure = JSON.parse(source.textContent);
      window.Plotly.newPlot(el, figure.data, figure.layout, { displayModeBar: false, displaylogo: false, responsive: true });
    });
  }
  function toggleCustom() {
    var range = document.getElementById("f-range");
    if (!range) return;
    document.querySelectorAll(".usage-filters__custom").forEach(function (el) {
      el.hidden = range.value !== "custom";
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    draw(document);
    toggleCustom();
    var range = document.getElementById("f-range");
    if (range) range.addEventListener("change", toggleCustom);
  });
  document.addEventListener("htmx:afterSettle", function () { draw(document); });
})();
