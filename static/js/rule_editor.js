// The owner's rules editor: zones (polygons), lines (two points, direction shown by an arrow) and ignore masks
// drawn on an SVG over the camera's snapshot, in normalised coordinates (0..1), saved as JSON to the server.
(function () {
  "use strict";
  var root = document.getElementById("rules-editor");
  if (!root) return;
  var config = JSON.parse(document.getElementById("rules-config").textContent);
  var csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  var svg = document.getElementById("rules-svg");
  var form = document.getElementById("rule-form");
  var masksForm = document.getElementById("masks-form");
  var status = document.getElementById("rules-status");
  var DAYS = [["mon", "Mon"], ["tue", "Tue"], ["wed", "Wed"], ["thu", "Thu"], ["fri", "Fri"], ["sat", "Sat"], ["sun", "Sun"]];
  var NS = "http://www.w3.org/2000/svg";
  var editor = { rules: config.rules, masks: config.masks.slice(), current: null, points: [], mode: "rule", maskIndex: 0 };
  window.lanternRules = editor; // for tests

  var grid = document.getElementById("rule-schedule");
  DAYS.forEach(function (d) {
    grid.insertAdjacentHTML("beforeend", '<span>' + d[1] + '</span><input type="time" name="' + d[0] + '_start" aria-label="' + d[1] + ' from">' +
      '<input type="time" name="' + d[0] + '_end" aria-label="' + d[1] + ' until">');
  });

  function el(name, attrs) {
    var node = document.createElementNS(NS, name);
    Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    svg.appendChild(node);
    return node;
  }
  function px(p) { return (p[0] * 1000).toFixed(1) + "," + (p[1] * 1000).toFixed(1); }
  function kind() { return form.elements.kind.value; }

  function drawShape(points, isLine, colour, direction) {
    if (!points.length) return;
    if (isLine && points.length === 2) {
      el("line", { x1: points[0][0] * 1000, y1: points[0][1] * 1000, x2: points[1][0] * 1000, y2: points[1][1] * 1000, stroke: colour, "stroke-width": 6 });
      if (direction !== "any") {
        // The arrow crosses the line at its middle, pointing the way a crossing counts (a_to_b: to the right
        // of the line as walked from its first point, in image coordinates).
        var mx = (points[0][0] + points[1][0]) * 500, my = (points[0][1] + points[1][1]) * 500;
        var dx = (points[1][0] - points[0][0]) * 1000, dy = (points[1][1] - points[0][1]) * 1000;
        var len = Math.hypot(dx, dy) || 1, nx = -dy / len, ny = dx / len;
        if (direction === "b_to_a") { nx = -nx; ny = -ny; }
        var tx = mx + nx * 60, ty = my + ny * 60;
        el("line", { x1: mx - nx * 60, y1: my - ny * 60, x2: tx, y2: ty, stroke: colour, "stroke-width": 5 });
        el("polygon", { points: [tx + nx * 25, ty + ny * 25].join(",") + " " + [tx - ny * 15, ty + nx * 15].join(",") + " " + [tx + ny * 15, ty - nx * 15].join(","), fill: colour, "class": "arrow" });
      }
    } else if (points.length > 1) {
      el(isLine ? "polyline" : "polygon", { points: points.map(px).join(" "), fill: isLine ? "none" : colour, "fill-opacity": 0.25, stroke: colour, "stroke-width": 4 });
    }
    points.forEach(function (p) { el("circle", { cx: p[0] * 1000, cy: p[1] * 1000, r: 8, fill: colour }); });
  }

  function redraw() {
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    editor.masks.forEach(function (m, i) { if (editor.mode !== "masks" || i !== editor.maskIndex) drawShape(m, false, "#666", "any"); });
    if (editor.mode === "masks") { drawShape(editor.points, false, "#222", "any"); return; }
    editor.rules.forEach(function (r) {
      if (editor.current && r.id === editor.current.id) return;
      drawShape(r.kind === "line" ? r.line : r.zone, r.kind === "line", "#888", r.direction);
    });
    drawShape(editor.points, kind() === "line", "#d92d20", form.elements.direction.value);
  }

  svg.addEventListener("click", function (e) {
    var box = svg.getBoundingClientRect();
    var p = [Math.min(1, Math.max(0, (e.clientX - box.left) / box.width)), Math.min(1, Math.max(0, (e.clientY - box.top) / box.height))];
    p = [Math.round(p[0] * 10000) / 10000, Math.round(p[1] * 10000) / 10000];
    if (editor.mode === "rule" && kind() === "line" && editor.points.length >= 2) editor.points = [];
    editor.points.push(p);
    if (editor.mode === "masks") editor.masks[editor.maskIndex] = editor.points;
    redraw();
  });
  document.getElementById("rules-undo").onclick = function () { editor.points.pop(); if (editor.mode === "masks") editor.masks[editor.maskIndex] = editor.points; redraw(); };
  document.getElementById("rules-clear").onclick = function () { editor.points = []; if (editor.mode === "masks") editor.masks[editor.maskIndex] = editor.points; redraw(); };
  form.elements.kind.onchange = function () { editor.points = []; document.getElementById("rule-direction-field").hidden = kind() !== "line"; redraw(); };
  form.elements.direction.onchange = redraw;

  function showErrors(box, errors) {
    box.innerHTML = "";
    Object.keys(errors).forEach(function (k) {
      errors[k].forEach(function (m) { var p = document.createElement("p"); p.textContent = (k === "__all__" ? "" : k.replace(/_/g, " ") + ": ") + m; box.appendChild(p); });
    });
    box.hidden = false;
  }

  function load(rule) {
    editor.mode = "rule";
    editor.current = rule;
    form.hidden = false;
    masksForm.hidden = true;
    document.getElementById("rule-errors").hidden = true;
    var r = rule || { name: "", kind: "zone", enabled: true, classes: [], zone: [], line: [], direction: "any", min_dwell_s: 0, schedule: {}, cooldown_s: 60, severity: "medium" };
    form.elements.name.value = r.name;
    form.elements.kind.value = r.kind;
    form.elements.direction.value = r.direction;
    form.elements.min_dwell_s.value = r.min_dwell_s;
    form.elements.cooldown_s.value = r.cooldown_s;
    form.elements.severity.value = r.severity;
    form.elements.enabled.checked = r.enabled;
    form.querySelectorAll('input[name="classes"]').forEach(function (c) { c.checked = r.classes.indexOf(c.value) >= 0; });
    DAYS.forEach(function (d) {
      var w = (r.schedule[d[0]] || [])[0] || ["", ""];
      form.elements[d[0] + "_start"].value = w[0];
      form.elements[d[0] + "_end"].value = w[1];
    });
    editor.points = (r.kind === "line" ? r.line : r.zone).map(function (p) { return p.slice(); });
    document.getElementById("rule-direction-field").hidden = r.kind !== "line";
    document.getElementById("rule-delete").hidden = !rule;
    list();
    redraw();
  }

  function list() {
    var ul = document.getElementById("rules-list");
    ul.innerHTML = "";
    if (!editor.rules.length) ul.innerHTML = "<li>No rules yet.</li>";
    editor.rules.forEach(function (r) {
      var li = document.createElement("li");
      var b = document.createElement("button");
      b.type = "button"; b.className = "link";
      b.textContent = r.name + " (" + (r.kind === "line" ? "line" : "zone") + (r.enabled ? "" : ", off") + ")";
      b.onclick = function () { load(r); };
      li.appendChild(b);
      if (editor.current && editor.current.id === r.id) li.className = "selected";
      ul.appendChild(li);
    });
  }

  function post(url, body) {
    return fetch(url, { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-CSRFToken": csrf }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().catch(function () { return { errors: { __all__: ["The server said " + r.status + "."] } }; }).then(function (j) { j.ok = r.ok; return j; }); });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var schedule = {};
    DAYS.forEach(function (d) {
      var s = form.elements[d[0] + "_start"].value, t = form.elements[d[0] + "_end"].value;
      if (s || t) schedule[d[0]] = [[s, t]];
    });
    var body = {
      name: form.elements.name.value, kind: kind(), direction: form.elements.direction.value,
      classes: Array.prototype.map.call(form.querySelectorAll('input[name="classes"]:checked'), function (c) { return c.value; }),
      min_dwell_s: form.elements.min_dwell_s.value, cooldown_s: form.elements.cooldown_s.value,
      severity: form.elements.severity.value, enabled: form.elements.enabled.checked, schedule: schedule,
    };
    body[kind() === "line" ? "line" : "zone"] = editor.points;
    if (editor.current) body.id = editor.current.id;
    post(config.saveUrl, body).then(function (j) {
      if (!j.ok) { showErrors(document.getElementById("rule-errors"), j.errors || {}); status.textContent = "Not saved."; return; }
      var i = editor.rules.findIndex(function (r) { return r.id === j.rule.id; });
      if (i >= 0) editor.rules[i] = j.rule; else editor.rules.push(j.rule);
      status.textContent = "Saved “" + j.rule.name + "”.";
      load(j.rule);
    });
  });
  document.getElementById("rule-delete").onclick = function () {
    if (!editor.current || !confirm("Delete “" + editor.current.name + "”?")) return;
    var gone = editor.current;
    post(config.deleteUrl.replace("/0/", "/" + gone.id + "/"), {}).then(function (j) {
      if (!j.ok) { status.textContent = "Not deleted."; return; }
      editor.rules = editor.rules.filter(function (r) { return r.id !== gone.id; });
      status.textContent = "Deleted “" + gone.name + "”.";
      load(null);
    });
  };
  document.getElementById("rules-new").onclick = function () { load(null); };

  document.getElementById("rules-masks-edit").onclick = function () {
    editor.mode = "masks";
    form.hidden = true;
    masksForm.hidden = false;
    editor.masks = editor.masks.filter(function (m) { return m.length; });
    editor.maskIndex = editor.masks.length;
    editor.points = [];
    redraw();
  };
  document.getElementById("masks-next").onclick = function () {
    editor.masks = editor.masks.filter(function (m) { return m.length; });
    editor.maskIndex = editor.masks.length;
    editor.points = [];
    redraw();
  };
  document.getElementById("masks-cancel").onclick = function () { load(editor.current); };
  masksForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var masks = editor.masks.filter(function (m) { return m.length; });
    post(config.masksUrl, { masks: masks }).then(function (j) {
      if (!j.ok) { showErrors(document.getElementById("masks-errors"), j.errors || {}); status.textContent = "Masks not saved."; return; }
      document.getElementById("masks-errors").hidden = true;
      editor.masks = j.masks;
      editor.maskIndex = editor.masks.length;
      editor.points = [];
      status.textContent = "Saved " + j.masks.length + " ignore mask" + (j.masks.length === 1 ? "" : "s") + ".";
      redraw();
    });
  });

  load(editor.rules[0] || null);
})();
