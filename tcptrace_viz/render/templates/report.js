(function () {
  "use strict";
  // Link the timeline table and the ladder: rows carry data-ref="p3", the SVG has tv-p3,
  // tv-p3-label and tv-p3-reason.  Hovering either lights up both.
  var parts = ["", "-label", "-reason"];
  function figure(ref) {
    var found = [];
    for (var i = 0; i < parts.length; i++) {
      var el = document.getElementById("tv-" + ref + parts[i]);
      if (el) { found.push(el); }
    }
    return found;
  }
  function rowsFor(ref) {
    return document.querySelectorAll('tr[data-ref="' + ref + '"]');
  }
  function mark(ref, on) {
    if (!/^[pcs][0-9]+$/.test(ref)) { return; }
    var els = figure(ref);
    var rows = rowsFor(ref);
    for (var i = 0; i < els.length; i++) { els[i].classList.toggle("hl", on); }
    for (var j = 0; j < rows.length; j++) { rows[j].classList.toggle("hl", on); }
  }
  function refOfSvg(target) {
    while (target && target.id !== undefined) {
      var m = /^tv-([pcs][0-9]+)(-label|-reason)?$/.exec(target.id || "");
      if (m) { return m[1]; }
      target = target.parentNode;
    }
    return null;
  }
  var table = document.getElementById("timeline");
  if (table) {
    table.addEventListener("mouseover", function (ev) {
      var tr = ev.target.closest("tr[data-ref]");
      if (tr) { mark(tr.getAttribute("data-ref"), true); }
    });
    table.addEventListener("mouseout", function (ev) {
      var tr = ev.target.closest("tr[data-ref]");
      if (tr) { mark(tr.getAttribute("data-ref"), false); }
    });
    table.addEventListener("focusin", function (ev) {
      var tr = ev.target.closest("tr[data-ref]");
      if (tr) { mark(tr.getAttribute("data-ref"), true); }
    });
    table.addEventListener("focusout", function (ev) {
      var tr = ev.target.closest("tr[data-ref]");
      if (tr) { mark(tr.getAttribute("data-ref"), false); }
    });
  }
  var ladder = document.getElementById("ladder");
  if (ladder) {
    ladder.addEventListener("mouseover", function (ev) {
      var ref = refOfSvg(ev.target);
      if (ref) { mark(ref, true); }
    });
    ladder.addEventListener("mouseout", function (ev) {
      var ref = refOfSvg(ev.target);
      if (ref) { mark(ref, false); }
    });
    ladder.addEventListener("click", function (ev) {
      var ref = refOfSvg(ev.target);
      var rows = ref ? rowsFor(ref) : [];
      if (rows.length) { rows[0].scrollIntoView({block: "center", behavior: "smooth"}); }
    });
  }
  var findings = document.querySelectorAll("[data-finding-ref]");
  for (var k = 0; k < findings.length; k++) {
    (function (el) {
      var ref = el.getAttribute("data-finding-ref");
      el.addEventListener("mouseover", function () { mark(ref, true); });
      el.addEventListener("mouseout", function () { mark(ref, false); });
    })(findings[k]);
  }
})();
