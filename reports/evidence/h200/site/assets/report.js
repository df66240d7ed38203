// Filters of the matrix page: by every axis (select) and by outcome (checkboxes).
// A chip is shown when it matches every axis filter and each of its marks (its status, the verdict
// a cached cell repeats, flaky) is checked; rows and columns left empty are hidden.
(function () {
  "use strict";
  var grid = document.getElementById("grid");
  var shown = document.getElementById("shown");
  if (!grid) { return; }
  var chips = Array.prototype.slice.call(grid.querySelectorAll("a.chip"));
  var selects = Array.prototype.slice.call(document.querySelectorAll("#filters select[data-axis]"));
  var boxes = Array.prototype.slice.call(document.querySelectorAll("#filters input[data-outcome]"));

  function matches(chip) {
    for (var i = 0; i < selects.length; i++) {
      var want = selects[i].value;
      if (want && chip.getAttribute("data-" + selects[i].getAttribute("data-axis")) !== want) { return false; }
    }
    var marks = chip.getAttribute("data-marks").split(" ");
    var allowed = boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.getAttribute("data-outcome"); });
    return marks.every(function (m) { return allowed.indexOf(m) >= 0; });
  }

  function apply() {
    var visible = 0;
    var columns = {};
    chips.forEach(function (chip) {
      var ok = matches(chip);
      chip.hidden = !ok;
      if (ok) {
        visible += 1;
        columns[chip.parentNode.getAttribute("data-col")] = true;
      }
    });
    Array.prototype.forEach.call(grid.querySelectorAll("tbody tr.cfg"), function (row) {
      row.hidden = !row.querySelector("a.chip:not([hidden])");
    });
    Array.prototype.forEach.call(grid.querySelectorAll("[data-col]"), function (cell) {
      cell.hidden = !columns[cell.getAttribute("data-col")];
    });
    shown.textContent = "showing " + visible + " of " + chips.length + " cells";
  }

  selects.concat(boxes).forEach(function (el) { el.addEventListener("change", apply); });
  apply();
})();
