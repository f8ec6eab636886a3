// The police map's heat map of alerts: a layer toggled on the map, over the last day, week or month.
// Points are [lat, lng, count] from /alerts/heatmap.json, already limited to what this officer may see.
(function () {
  "use strict";
  var el = document.getElementById("camera-map");
  var toggle = document.getElementById("heat-toggle");
  var period = document.getElementById("heat-period");
  var status = document.getElementById("heat-status");
  if (!el || !toggle || !window.L || !L.heatLayer || !el.lanternMap) return;
  var map = el.lanternMap;
  var layer = null;
  var request = 0;

  function load() {
    var mine = ++request;
    if (!toggle.checked) {
      if (layer) { map.removeLayer(layer); layer = null; }
      status.textContent = "";
      return;
    }
    var until = new Date();
    var since = new Date(until.getTime() - Number(period.value) * 24 * 3600 * 1000);
    var url = el.dataset.heatmapUrl + "?since=" + encodeURIComponent(since.toISOString()) + "&until=" + encodeURIComponent(until.toISOString());
    status.textContent = "Loading alerts…";
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (data) {
        if (mine !== request) return; // a later choice already asked again
        var most = data.points.reduce(function (m, p) { return Math.max(m, p[2]); }, 1);
        var total = data.points.reduce(function (s, p) { return s + p[2]; }, 0);
        if (layer) map.removeLayer(layer);
        layer = L.heatLayer(data.points, { radius: 25, blur: 18, max: most, minOpacity: 0.3 }).addTo(map);
        status.textContent = total + " alert" + (total === 1 ? "" : "s") + " at " + data.points.length + " place" + (data.points.length === 1 ? "" : "s");
      })
      .catch(function (err) { if (mine === request) status.textContent = "Could not load alerts (" + err.message + ")."; });
  }
  toggle.addEventListener("change", load);
  period.addEventListener("change", load);
  window.lanternHeat = { reload: load, layer: function () { return layer; } };
})();
