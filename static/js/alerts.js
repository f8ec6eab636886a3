// Live alerts: one websocket to /ws/alerts/ that reconnects; the alerts page puts new ones at the top,
// and other pages (the live wall's crime-center panel) subscribe with window.lanternAlerts.listen(fn).
(function () {
  "use strict";
  var listeners = [];
  var status = null;
  var socket = null;
  var retryMs = 1000;

  function say(state, text) {
    if (!status) return;
    status.dataset.state = state;
    status.textContent = text;
  }

  function open() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/ws/alerts/");
    socket.onopen = function () { retryMs = 1000; say("live", "Live: new alerts appear as they are raised."); };
    socket.onmessage = function (e) {
      var message = JSON.parse(e.data);
      listeners.forEach(function (fn) { fn(message.alert, message.created); });
    };
    socket.onclose = function (e) {
      // 4403: no longer allowed (logged out, deactivated); reconnecting would only be refused again.
      if (e.code === 4403) { say("ended", "Live alerts stopped: log in again to resume."); return; }
      say("reconnecting", "Connection lost; reconnecting…");
      setTimeout(open, retryMs);
      retryMs = Math.min(retryMs * 2, 30000);
    };
  }

  // As the server writes times (Y-m-d H:i:s and the zone's label), in the agency's zone the page names,
  // not the browser's own.
  var clock = new Intl.DateTimeFormat("en-US", {
    timeZone: document.body.dataset.timeZone || undefined, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short",
  });
  function when(iso) {
    var p = {};
    clock.formatToParts(new Date(iso)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second + " " + p.timeZoneName;
  }

  window.lanternAlerts = {
    received: [], // for tests and the curious operator
    when: when,
    listen: function (fn) {
      listeners.push(fn);
      if (!socket) open();
    },
  };
  window.lanternAlerts.listen(function (alert) { window.lanternAlerts.received.push(alert.id); });

  var rows = document.getElementById("alert-rows");
  var configEl = document.getElementById("alerts-config");
  if (!rows || !configEl) return;
  var config = JSON.parse(configEl.textContent);
  if (!config.live) return;
  status = document.getElementById("alerts-live");

  function cell(tr, text, html) {
    var td = document.createElement("td");
    if (html) td.appendChild(html); else td.textContent = text;
    tr.appendChild(td);
    return td;
  }
  function badge(kind, value, label) {
    var span = document.createElement("span");
    span.className = "badge " + kind + "-" + value;
    span.textContent = label;
    return span;
  }
  function label(value) { return value.charAt(0).toUpperCase() + value.slice(1); }
  window.lanternAlerts.listen(function (alert, created) {
    var existing = rows.querySelector('tr[data-alert="' + alert.id + '"]');
    if (existing && !created) {
      var state = existing.querySelector(".badge[class*='state-']");
      if (state) { state.className = "badge state-" + alert.state; state.textContent = label(alert.state); }
      return;
    }
    if (existing) return;
    var empty = rows.querySelector("tr.no-alerts");
    if (empty) empty.remove();
    var tr = document.createElement("tr");
    tr.dataset.alert = alert.id;
    tr.className = "alert-new severity-row-" + alert.severity;
    cell(tr, when(alert.occurred_at));
    var link = document.createElement("a");
    link.href = config.detailUrl.replace("/0/", "/" + alert.id + "/");
    link.textContent = alert.title;
    var what = document.createElement("div");
    what.appendChild(link);
    var kind = document.createElement("small");
    kind.textContent = alert.kind_label;
    what.appendChild(document.createElement("br"));
    what.appendChild(kind);
    cell(tr, "", what);
    cell(tr, alert.camera ? alert.camera.name : "—");
    cell(tr, "", badge("severity", alert.severity, label(alert.severity)));
    cell(tr, "", badge("state", alert.state, label(alert.state)));
    rows.insertBefore(tr, rows.firstChild);
    // A visual cue only (no sound): the row glows for a while, then settles.
    setTimeout(function () { tr.classList.remove("alert-new"); }, 15000);
  });
})();
