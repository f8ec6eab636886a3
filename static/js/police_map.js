// Police map of partner cameras: compact rows from the API, clustered markers, filters by health and mode.
// Rows are [id, lat, lng, health, mode, name, site]; markers are built once and filtered in place.
(function () {
  "use strict";
  var el = document.getElementById("camera-map");
  if (!el || !window.L) return;
  var center = (el.dataset.center || "42.3314,-83.0458").split(",").map(Number);
  // maxZoom on the map itself: without a tile layer to lend one, the clusters refuse to work.
  var map = L.map(el, { preferCanvas: true, maxZoom: 19 }).setView(center, 12);
  el.lanternMap = map; // the alert heat map layer (heatmap.js) draws on the same map
  if (el.dataset.tileUrl) {
    // Without a reachable tile server the map is a plain background; markers and clusters still work. With
    // none configured the page says so on the map (templates/_no_base_map.html).
    L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
  }
  // With chunked loading, addLayers returns before the markers are in; a filter change meanwhile
  // waits for the load to finish, or the old load's later chunks would add back what it cleared.
  var loading = false, pending = false;
  var cluster = L.markerClusterGroup({
    chunkedLoading: true, chunkInterval: 100, removeOutsideVisibleBounds: true, spiderfyOnMaxZoom: true,
    chunkProgress: function (done, total) {
      if (done < total) return;
      loading = false;
      if (pending) { pending = false; apply(); }
    }
  });
  map.addLayer(cluster);
  var count = document.getElementById("map-count");
  var markers = [];
  var icons = {};
  function icon(health, mode) {
    var key = health + "/" + mode;
    if (!icons[key]) icons[key] = L.divIcon({ className: "", html: '<div class="cam-marker health-' + health + " mode-" + (mode || "none") + '"></div>', iconSize: [14, 14] });
    return icons[key];
  }
  function url(template, id) { return template.replace("/0/", "/" + id + "/"); }
  function esc(s) { var d = document.createElement("div"); d.textContent = s; return d.innerHTML; }
  function checked(name) {
    return Array.prototype.map.call(document.querySelectorAll('input[name="' + name + '"]:checked'), function (i) { return i.value; });
  }
  function apply() {
    if (loading) { pending = true; return; }
    var health = checked("health"), mode = checked("mode");
    var shown = markers.filter(function (m) { return health.indexOf(m.row[3]) >= 0 && mode.indexOf(m.row[4]) >= 0; });
    loading = true;
    cluster.clearLayers();
    cluster.addLayers(shown);
    count.textContent = shown.length + " of " + markers.length + " cameras shown";
  }
  fetch(el.dataset.featuresUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then(function (data) {
      markers = data.cameras.map(function (row) {
        var m = L.marker([row[1], row[2]], { icon: icon(row[3], row[4]), title: row[5] });
        m.row = row;
        m.bindPopup(function () {
          return '<div class="popup"><a href="' + url(el.dataset.cameraUrl, row[0]) + '"><strong>' + esc(row[5]) + "</strong></a><br>" +
            esc(row[6]) + " · " + esc(row[3]) +
            (row[4] && row[4] !== "registry" ? ' · <a href="' + el.dataset.wallUrl + "?add=" + row[0] + '">watch live</a>' : "") +
            '<img loading="lazy" alt="" src="' + url(el.dataset.snapshotUrl, row[0]) + '" onerror="this.remove()"></div>';
        });
        return m;
      });
      // Fit to the rows themselves: the cluster layer knows its bounds only after its last chunk, and
      // clustering once, at the final zoom, is cheaper than clustering at the default view first.
      if (markers.length) {
        var bounds = L.latLngBounds(markers.map(function (m) { return m.getLatLng(); }));
        map.fitBounds(bounds, { maxZoom: 16, padding: [20, 20] });
      }
      apply();
    })
    .catch(function (err) { count.textContent = "Could not load cameras (" + err.message + ")."; });
  document.querySelectorAll('.map-panel input[name="health"], .map-panel input[name="mode"]').forEach(function (i) { i.addEventListener("change", apply); });
})();
