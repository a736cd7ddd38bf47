(function () {
  "use strict";
  // Link the timeline table and the ladder: rows carry data-ref="p3", the SVG has tv-p3,
  // tv-p3-label, tv-p3-reason and tv-p3-badge (a key moment's number).  Hovering either
  // lights up both.
  var parts = ["", "-label", "-reason", "-badge"];
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
      var m = /^tv-([pcs][0-9]+)(-label|-reason|-badge)?$/.exec(target.id || "");
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

  // The player: step through the timeline (data in #tv-steps, one step per table row), show
  // the diagram up to the current step only, light each endpoint's state in the state
  // machine; in quiz mode a result or a new state is asked before it is shown.  "Show all"
  // (cur = -1) is the page as it loads, the page without this script.
  var data = document.getElementById("tv-steps");
  var player = document.getElementById("player");
  var steps = [];
  try { steps = JSON.parse(data ? data.textContent : "[]"); } catch (e) { steps = []; }
  if (!player || !steps.length) { return; }
  var body = document.body;
  var box = document.getElementById("timeline-box");
  var fsm = document.getElementById("fsm");
  var caption = document.getElementById("tv-caption");
  var counter = document.getElementById("tv-counter");
  var nextButton = document.getElementById("tv-next");
  var quizBox = document.getElementById("tv-quiz");
  var n = steps.length, cur = -1, revealed = true;
  var quiz = player.getAttribute("data-quiz") === "on";
  var rows = [], els = [];
  for (var s = 0; s < n; s++) {
    rows.push(rowsFor(steps[s].ref)[0] || null);
    els.push(figure(steps[s].ref));
  }
  function asked(i) { return quiz && !!steps[i].quiz; }
  function fsmShow(st, lane, edge) {
    if (!fsm) { return; }
    var lit = fsm.querySelectorAll(".on-0, .on-1, .lit-0, .lit-1");
    for (var i = 0; i < lit.length; i++) {
      lit[i].classList.remove("on-0", "on-1", "lit-0", "lit-1");
    }
    for (var l = 0; st && l < 2; l++) {
      if (!st[l]) { continue; }
      var nodes = fsm.querySelectorAll('[data-state="' + st[l] + '"]');
      for (var k = 0; k < nodes.length; k++) { nodes[k].classList.add("on-" + l); }
    }
    var taken = edge && lane >= 0 ? document.getElementById(edge) : null;
    if (taken) { taken.classList.add("lit-" + lane); }
  }
  function show() {
    var playing = cur >= 0, pending = playing && !revealed;
    body.classList.toggle("playing", playing);
    body.classList.toggle("quiz", quiz);
    for (var i = 0; i < n; i++) {
      var later = playing && (i > cur || (i === cur && pending));
      for (var j = 0; j < els[i].length; j++) {
        els[i][j].classList.toggle("tv-later", later);
        els[i][j].classList.toggle("tv-now", playing && i === cur && !pending);
      }
      if (rows[i]) {
        rows[i].classList.toggle("later", playing && i > cur);
        rows[i].classList.toggle("now", playing && i === cur);
        rows[i].classList.toggle("pending", pending && i === cur);
      }
    }
    var step = playing ? steps[cur] : null;
    if (!step) {
      fsmShow(null, -1, "");
      caption.textContent = "The whole story is shown. Press Next (or \u2192) to step through it.";
    } else if (pending) {
      var st = step.st.slice();
      if (step.kind === "state" && step.lane >= 0) { st[step.lane] = step.was || ""; }
      fsmShow(st, -1, "");
      caption.textContent = "Predict: " + step.quiz + " (Next reveals it.)";
    } else {
      fsmShow(step.st, step.lane, step.edge);
      caption.textContent = step.caption;
    }
    caption.classList.toggle("ask", pending);
    counter.textContent = playing ? "step " + (cur + 1) + " of " + n : n + " steps";
    nextButton.textContent = pending ? "Reveal \u2714" : "Next \u25B6";
    if (quizBox) { quizBox.checked = quiz; }
    var row = playing ? rows[cur] : null;
    if (row && box) {
      var top = row.getBoundingClientRect().top - box.getBoundingClientRect().top;
      box.scrollTop += top - box.clientHeight / 2 + row.offsetHeight / 2;
    }
    var mark = playing && !pending && els[cur].length ? els[cur][0] : null;
    if (mark) {
      var r = mark.getBoundingClientRect();
      if (r.top < player.offsetHeight || r.bottom > window.innerHeight) {
        window.scrollBy(0, r.top - (window.innerHeight + player.offsetHeight) / 2);
      }
    }
  }
  function go(i) {
    if (cur < 0) { player.scrollIntoView({block: "start"}); }  // bring the ladder up
    cur = Math.max(0, Math.min(n - 1, i));
    revealed = !asked(cur);
    show();
  }
  function next() {
    if (cur < 0) { go(0); } else if (!revealed) { revealed = true; show(); }
    else if (cur < n - 1) { go(cur + 1); }
  }
  function back() {
    if (cur < 0) { player.scrollIntoView({block: "start"}); cur = n - 1; }
    else if (cur > 0) { cur -= 1; }
    revealed = true;
    show();
  }
  function showAll() { cur = -1; revealed = true; show(); }
  if (table) {  // while playing, a click on a row jumps to its step
    table.addEventListener("click", function (ev) {
      var tr = ev.target.closest("tr[data-ref]");
      var at = tr ? rows.indexOf(tr) : -1;
      if (cur >= 0 && at >= 0) { go(at); }
    });
  }
  document.getElementById("tv-back").addEventListener("click", back);
  nextButton.addEventListener("click", next);
  document.getElementById("tv-all").addEventListener("click", showAll);
  if (quizBox) {
    quizBox.addEventListener("change", function () {
      quiz = quizBox.checked;
      if (quiz && cur < 0) { go(0); } else {
        if (!quiz) { revealed = true; }
        show();
      }
    });
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
    var tag = ev.target && ev.target.tagName ? ev.target.tagName.toUpperCase() : "";
    if (tag === "TEXTAREA" || tag === "SELECT" ||
        (tag === "INPUT" && ev.target.type !== "checkbox")) { return; }
    var activates = tag === "BUTTON" || tag === "SUMMARY" || tag === "A" || tag === "INPUT";
    if ((ev.key === " " || ev.key === "Enter") && activates) { return; }
    if (ev.key === "ArrowRight" || ev.key === "Enter" || (ev.key === " " && !ev.shiftKey)) {
      next();
    }
    else if (ev.key === "ArrowLeft" || (ev.key === " " && ev.shiftKey)) { back(); }
    else if (ev.key === "Escape") { showAll(); }
    else if (ev.key === "Home" && cur >= 0) { go(0); }
    else if (ev.key === "End" && cur >= 0) { cur = n - 1; revealed = true; show(); }
    else { return; }
    ev.preventDefault();
  });
  player.hidden = false;
  if (quiz) { cur = 0; revealed = !asked(0); }  // a quiz starts at the first step
  show();
})();
