// An evidence request's page follows its export live over a websocket (cameras/consumers.py): the state
// badge and the progress bar move as the worker goes; when the request is answered or reaches a new resting
// state (exported, failed, denied) the page reloads to show the answer, the files or the error.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("evidence-config").textContent);
  var badge = document.getElementById("evidence-state");
  var bar = document.getElementById("export-progress");
  var percent = document.getElementById("export-percent");
  var message = document.getElementById("export-message");
  var RESTING = ["exported", "failed", "denied"];
  var NOT_ALLOWED = 4403;
  var attempts = 0;
  var stopped = false;
  var live = { events: 0, socket: null };
  window.lanternEvidence = live; // for tests

  function update(event) {
    live.events += 1;
    badge.textContent = event.state_label;
    badge.className = "badge state-" + event.state;
    if (bar) {
      bar.value = event.progress;
      var text = Math.round(event.progress * 100) + " %";
      bar.textContent = text;
      percent.textContent = text;
    }
    if (message && event.message) message.textContent = event.message;
    var answered = config.state === "pending" && event.state !== "pending";
    if (event.state !== config.state && (answered || RESTING.indexOf(event.state) >= 0)) {
      stopped = true;
      setTimeout(function () { window.location.reload(); }, 500);
    }
  }

  function connect() {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + config.socket);
    live.socket = socket;
    socket.onopen = function () { attempts = 0; };
    socket.onmessage = function (e) { update(JSON.parse(e.data)); };
    socket.onclose = function (e) {
      if (stopped) return;
      if (e.code === NOT_ALLOWED) {
        if (message) message.textContent = "Live updates stopped: you may no longer follow this request.";
        return;
      }
      // The server restarted or the network dropped: try again, waiting longer each time.
      setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, attempts++)));
    };
  }

  if (RESTING.indexOf(config.state) < 0 || config.state === "failed") connect();
})();
