// The monitor's live wall: each tile plays one camera over WHEP (RFC 9725) and shows its state and delay.
// States: connecting, live, reconnecting, ended (with the reason the server or the relay gave).
(function () {
  "use strict";
  var root = document.getElementById("wall");
  if (!root) return;
  var config = JSON.parse(document.getElementById("wall-config").textContent);
  var grid = document.getElementById("wall-grid");
  var picker = document.getElementById("wall-picker");
  var layoutSelect = document.getElementById("wall-layout");
  var csrf = (document.cookie.match(/(?:^|; )csrftoken=([^;]+)/) || [])[1] || "";
  var tiles = [];
  var wall = { layout: config.layout, tiles: config.tiles.slice(), tileStates: tiles };
  window.lanternWall = wall; // for tests and the curious operator

  function cameraName(id) {
    var c = config.cameras.find(function (c) { return c.id === id; });
    return c ? c.name : "Camera " + id;
  }

  function save() {
    fetch(config.saveUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ layout: wall.layout, tiles: wall.tiles.slice(0, wall.layout) }),
    });
  }

  function waitForIce(pc) {
    // Non-trickle WHEP: send the offer once every candidate is in it (quick on the networks we serve).
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise(function (resolve) {
      var done = function () { if (pc.iceGatheringState === "complete") { pc.removeEventListener("icegatheringstatechange", done); resolve(); } };
      pc.addEventListener("icegatheringstatechange", done);
      setTimeout(resolve, 2000);
    });
  }

  function Tile(index) {
    this.index = index;
    this.el = document.createElement("figure");
    this.el.className = "tile";
    this.el.innerHTML = '<video autoplay muted playsinline></video><figcaption><span class="tile-name"></span>' +
      '<span class="tile-state"></span><span class="tile-delay"></span>' +
      '<button type="button" class="tile-full" title="Full screen">Full screen</button><button type="button" class="tile-close" title="Close this tile">×</button></figcaption>';
    this.video = this.el.querySelector("video");
    this.stats = { framesDecoded: 0, delayMs: null };
    var self = this;
    this.el.querySelector(".tile-full").onclick = function () { (self.el.requestFullscreen || function () {}).call(self.el); };
    this.el.querySelector(".tile-close").onclick = function () { wall.tiles[self.index] = null; save(); self.stop("closed"); self.render(); };
    this.el.ondblclick = function () { (self.el.requestFullscreen || function () {}).call(self.el); };
  }
  Tile.prototype.setState = function (state, reason) {
    this.state = state;
    this.reason = reason || "";
    this.el.dataset.state = state;
    this.el.querySelector(".tile-state").textContent = state + (reason ? ": " + reason : "");
  };
  Tile.prototype.render = function () {
    var id = wall.tiles[this.index];
    this.el.querySelector(".tile-name").textContent = id ? cameraName(id) : "Empty: pick a camera below";
    this.el.classList.toggle("empty", !id);
    if (!id) this.setState("empty");
  };
  Tile.prototype.stop = function (why) {
    clearInterval(this.timer);
    clearTimeout(this.retry);
    if (this.location) {
      // keepalive: on pagehide (reload, closed tab, navigating away) the page is going, and a plain fetch
      // would be cancelled with it; the session would then stay open on the server.
      fetch(this.location, { method: "DELETE", credentials: "same-origin", keepalive: true, headers: { "X-CSRFToken": csrf } })
        .catch(function () { /* the relay ends it anyway when the connection dies */ });
      this.location = null;
    }
    if (this.pc) { this.pc.close(); this.pc = null; }
    this.video.srcObject = null;
    if (why) this.setState("ended", why);
  };
  Tile.prototype.play = function (cameraId) {
    var self = this;
    this.stop();
    this.cameraId = cameraId;
    this.render();
    this.setState("connecting");
    var pc = new RTCPeerConnection({ iceServers: config.iceServers });
    this.pc = pc;
    pc.addTransceiver("video", { direction: "recvonly" });
    var channel = pc.createDataChannel("lantern");
    channel.onmessage = function (e) {
      var m = JSON.parse(e.data);
      if (m.state === "ended") { self.ended = true; self.stop(); self.setState("ended", m.reason); }
      else if (m.state === "reconnecting") self.setState("reconnecting", "the camera dropped, waiting for it");
      else if (m.state === "live" && self.state !== "live") self.setState("live");
    };
    pc.ontrack = function (e) { self.video.srcObject = e.streams[0] || new MediaStream([e.track]); };
    pc.onconnectionstatechange = function () {
      if (pc !== self.pc) return;
      if (pc.connectionState === "failed" || (pc.connectionState === "disconnected" && !self.ended)) {
        self.setState("reconnecting", "connection lost");
        self.retry = setTimeout(function () { if (wall.tiles[self.index] === cameraId) self.play(cameraId); }, 3000);
      }
    };
    pc.createOffer()
      .then(function (offer) { return pc.setLocalDescription(offer); })
      .then(function () { return waitForIce(pc); })
      .then(function () {
        return fetch(config.whepUrl.replace("/0/", "/" + cameraId + "/"), {
          method: "POST", credentials: "same-origin",
          headers: { "Content-Type": "application/sdp", "X-CSRFToken": csrf },
          body: pc.localDescription.sdp,
        });
      })
      .then(function (r) {
        if (r.status !== 201) {
          return r.json().catch(function () { return {}; }).then(function (j) {
            self.stop(); self.setState("ended", j.detail || "the server said " + r.status);
          });
        }
        self.location = new URL(r.headers.get("Location"), r.url).toString();
        return r.text().then(function (sdp) { return pc.setRemoteDescription({ type: "answer", sdp: sdp }); });
      })
      .catch(function (err) { self.stop(); self.setState("ended", "could not connect (" + err.message + ")"); });
    this.timer = setInterval(function () { self.poll(); }, 1000);
  };
  Tile.prototype.poll = function () {
    var self = this;
    if (!this.pc) return;
    this.pc.getStats().then(function (report) {
      var rtt = 0;
      report.forEach(function (s) {
        if (s.type === "candidate-pair" && s.state === "succeeded" && s.currentRoundTripTime) rtt = s.currentRoundTripTime;
      });
      report.forEach(function (s) {
        if (s.type !== "inbound-rtp" || s.kind !== "video") return;
        var grew = (s.framesDecoded || 0) > self.stats.framesDecoded;
        self.stats.framesDecoded = s.framesDecoded || 0;
        if (s.jitterBufferEmittedCount) {
          self.stats.delayMs = Math.round((s.jitterBufferDelay / s.jitterBufferEmittedCount + rtt / 2) * 1000);
          // Playout delay as the browser sees it (jitter buffer plus half the round trip).
          self.el.querySelector(".tile-delay").textContent = self.stats.delayMs + " ms delay";
        }
        if (grew && self.state === "connecting") self.setState("live");
      });
    });
  };

  function build() {
    grid.className = "wall-grid layout-" + wall.layout;
    tiles.forEach(function (t) { if (t.index >= wall.layout) t.stop(); });
    while (tiles.length > wall.layout) { grid.removeChild(tiles.pop().el); }
    while (tiles.length < wall.layout) { var t = new Tile(tiles.length); tiles.push(t); grid.appendChild(t.el); }
    tiles.forEach(function (t) {
      var id = wall.tiles[t.index] || null;
      if (id && t.cameraId !== id) t.play(id);
      t.render();
    });
  }

  layoutSelect.value = String(wall.layout);
  layoutSelect.onchange = function () { wall.layout = Number(layoutSelect.value); build(); save(); };
  picker.addEventListener("click", function (e) {
    var button = e.target.closest("button[data-camera]");
    if (!button) return;
    var id = Number(button.dataset.camera);
    var free = wall.tiles.slice(0, wall.layout).indexOf(null);
    if (free < 0) free = wall.tiles.length < wall.layout ? wall.tiles.length : wall.layout - 1;
    wall.tiles[free] = id;
    tiles[free].cameraId = null;
    build();
    save();
  });
  while (wall.tiles.length < wall.layout) wall.tiles.push(null);
  var add = Number(new URLSearchParams(location.search).get("add"));
  if (add && wall.tiles.indexOf(add) < 0) {
    var slot = wall.tiles.slice(0, wall.layout).indexOf(null);
    wall.tiles[slot < 0 ? 0 : slot] = add;
    save();
  }
  build();
  window.addEventListener("pagehide", function () { tiles.forEach(function (t) { t.stop(); }); });

  // Fill the wall around a place: the answer of /alerts/<id>/nearby.json or /police/nearby.json?lat=&lng=
  // ({cameras: [{id, name, business, distance_m, live_now}], the alert's own camera first}). The first
  // camera always gets the first tile; the others only if their terms allow live viewing now.
  wall.fillFromPlace = function (url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error("the server said " + r.status); return r.json(); })
      .then(function (data) {
        var ids = data.cameras.filter(function (c, i) { return i === 0 || c.live_now; }).map(function (c) { return c.id; });
        if (!ids.length) return data;
        var wanted = Math.min(ids.length, 16);
        if (wall.layout < wanted) {
          wall.layout = [1, 4, 9, 16].filter(function (n) { return n >= wanted; })[0];
          layoutSelect.value = String(wall.layout);
        }
        while (wall.tiles.length < wall.layout) wall.tiles.push(null);
        var rest = wall.tiles.filter(function (id) { return id && ids.indexOf(id) < 0; });
        wall.tiles = ids.concat(rest).slice(0, wall.layout);
        while (wall.tiles.length < wall.layout) wall.tiles.push(null);
        build();
        save();
        return data;
      });
  };

  // From a tip's page (or any place): /police/wall/?place=<lat>,<lng> puts the shared cameras around it up.
  var place = (new URLSearchParams(location.search).get("place") || "").split(",");
  var placePanel = document.getElementById("alert-panel");
  if (place.length === 2 && placePanel && placePanel.dataset.placeNearbyUrl) {
    wall.fillFromPlace(placePanel.dataset.placeNearbyUrl + "?lat=" + encodeURIComponent(place[0]) +
      "&lng=" + encodeURIComponent(place[1])).catch(function () { /* the wall stays as it was */ });
  }

  // The crime-center panel: an alert arriving over the socket opens it and brings its cameras up.
  var panel = document.getElementById("alert-panel");
  if (!panel || !window.lanternAlerts) return;
  function nth(template, id) { return template.replace("/0/", "/" + id + "/"); }
  panel.querySelector(".close").onclick = function () { panel.hidden = true; };
  window.lanternAlerts.listen(function (alert, created) {
    if (!created) return;
    panel.hidden = false;
    panel.dataset.alert = alert.id;
    panel.querySelector(".alert-panel-title").textContent = alert.title;
    panel.querySelector(".alert-panel-facts").textContent = alert.kind_label + " · " + alert.severity + " · " +
      window.lanternAlerts.when(alert.occurred_at) + (alert.camera ? " · " + alert.camera.name : "");
    panel.querySelector(".alert-panel-link").href = nth(panel.dataset.alertUrl, alert.id);
    var list = panel.querySelector(".alert-panel-cameras");
    var status = panel.querySelector(".alert-panel-status");
    list.innerHTML = "";
    status.textContent = "Finding cameras nearby…";
    wall.fillFromPlace(nth(panel.dataset.alertNearbyUrl, alert.id))
      .then(function (data) {
        if (panel.dataset.alert !== String(alert.id)) return;
        status.textContent = data.cameras.length ? data.cameras.length + " camera(s) within " + Math.round(data.radius_m) + " m" : "No shared camera nearby.";
        data.cameras.forEach(function (c) {
          var li = document.createElement("li");
          li.textContent = c.name + " · " + c.business + " · " + Math.round(c.distance_m) + " m" + (c.live_now ? "" : " (not live now)");
          list.appendChild(li);
        });
      })
      .catch(function (err) { status.textContent = "Could not find nearby cameras (" + err.message + ")."; });
  });
})();
