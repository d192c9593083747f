// memtest HTML report: sortable suite table, expand/collapse all.
// Plain script, no dependencies: the page must work opened from disk.
"use strict";
(function () {
  var table = document.getElementById("suites");
  if (table) {
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th) {
      th.querySelector("button").addEventListener("click", function () {
        var col = Number(th.dataset.col);
        // First click sorts ascending, except for figures, where the largest
        // (the worst) is what one looks for.
        var current = th.getAttribute("aria-sort");
        var ascending = current === "none" ? col < 3 : current === "descending";
        headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = a.cells[col].dataset.sort, y = b.cells[col].dataset.sort;
          var nx = Number(x), ny = Number(y);
          var order = isNaN(nx) || isNaN(ny) ? x.localeCompare(y) : nx - ny;
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  }
  document.querySelectorAll("[data-expand]").forEach(function (button) {
    button.addEventListener("click", function () {
      var open = button.dataset.expand === "open";
      document.querySelectorAll("section.suite > details").forEach(function (d) { d.open = open; });
    });
  });
  // A link to a folded suite opens it.
  function openTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var target = id && document.getElementById(id);
    if (target) {
      var details = target.querySelector("details");
      if (details) details.open = true;
    }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
})();
