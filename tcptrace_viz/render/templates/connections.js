(function () {
  "use strict";
  // The connection table of a capture: click a heading to sort (again: the other way), type
  // words or press a flag button to filter, click a row for the command that draws it.
  // Without this script the table is a plain table in its scrolling box.
  var box = document.getElementById("tv-connections");
  if (!box) { return; }
  var table = box.querySelector("table");
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var texts = rows.map(function (tr) { return tr.textContent.toLowerCase(); });
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var search = document.getElementById("tv-conn-search");
  var counter = document.getElementById("tv-conn-count");
  var draw = document.getElementById("tv-conn-draw");
  var buttons = Array.prototype.slice.call(
    document.querySelectorAll("#tv-conn-controls button[data-flag]"));
  var file = box.getAttribute("data-file") || "FILE";
  var flag = "";
  document.getElementById("tv-conn-controls").hidden = false;

  function number(n) { return n.toLocaleString("en-US"); }
  function filter() {
    var words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    for (var i = 0; i < rows.length; i++) {
      var keep = !flag || (" " + (rows[i].getAttribute("data-flags") || "") + " ")
        .indexOf(" " + flag + " ") >= 0;
      for (var w = 0; keep && w < words.length; w++) {
        keep = texts[i].indexOf(words[w]) >= 0;
      }
      rows[i].hidden = !keep;
      if (keep) { shown++; }
    }
    counter.textContent = shown === rows.length ? "all " + number(rows.length) + " shown"
      : number(shown) + " of " + number(rows.length) + " shown";
  }
  function key(tr, column, numeric) {
    var cell = tr.cells[column];
    var text = cell.getAttribute("data-sort") || cell.textContent.replace(/^\u25b6\s*/, "");
    if (!numeric) { return text; }
    var value = parseFloat(text);
    return isNaN(value) ? -Infinity : value;
  }
  function sortBy(column) {
    var head = heads[column];
    var numeric = head.classList.contains("num");
    var was = head.getAttribute("aria-sort");
    // numbers first show the largest, words A to Z; a second click turns it round
    var descending = was ? was === "ascending" : numeric;
    var keyed = rows.map(function (tr, i) { return [key(tr, column, numeric), i, tr]; });
    keyed.sort(function (a, b) {
      var order = a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1];
      return descending && a[0] !== b[0] ? -order : order;
    });
    for (var h = 0; h < heads.length; h++) { heads[h].removeAttribute("aria-sort"); }
    head.setAttribute("aria-sort", descending ? "descending" : "ascending");
    var fragment = document.createDocumentFragment();
    for (var k = 0; k < keyed.length; k++) { fragment.appendChild(keyed[k][2]); }
    body.appendChild(fragment);
  }
  heads.forEach(function (head, column) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.title = "sort by " + head.textContent;
    while (head.firstChild) { button.appendChild(head.firstChild); }
    head.appendChild(button);
    button.addEventListener("click", function () { sortBy(column); });
  });
  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      var on = button.getAttribute("aria-pressed") !== "true";
      buttons.forEach(function (b) { b.setAttribute("aria-pressed", "false"); });
      button.setAttribute("aria-pressed", on ? "true" : "false");
      flag = on ? button.getAttribute("data-flag") : "";
      filter();
    });
  });
  search.addEventListener("input", filter);
  body.addEventListener("click", function (ev) {
    var tr = ev.target.closest("tr[data-conn]");
    if (!tr || ev.target.closest("a")) { return; }
    rows.forEach(function (r) { r.classList.remove("picked"); });
    tr.classList.add("picked");
    draw.hidden = false;
    draw.textContent = tr.classList.contains("current")
      ? "Connection " + tr.getAttribute("data-conn") + " is drawn in this report."
      : "To draw connection " + tr.getAttribute("data-conn") + ": tcptrace-viz report " + file +
        " --connection " + tr.getAttribute("data-conn");
  });
  filter();
}());
