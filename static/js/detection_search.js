// The detection search's map: with "Only the area shown on the map" ticked, the area field follows the map.
// A file rather than an inline script, so the page works under the Content-Security-Policy (script-src 'self').
(function () {
  "use strict";
  var el = document.getElementById("search-map"), area = document.getElementById("id_area"), use = document.getElementById("search-use-map");
  if (!el || !window.L) return;
  var map = L.map(el).setView(el.dataset.center.split(",").map(Number), 12);
  if (el.dataset.tileUrl) L.tileLayer(el.dataset.tileUrl, { maxZoom: 19, attribution: el.dataset.tileAttribution || "" }).addTo(map);
  if (area.value) {
    var b = area.value.split(",").map(Number);
    map.fitBounds([[b[0], b[1]], [b[2], b[3]]]);
  }
  function sync() {
    var b = map.getBounds();
    area.value = use.checked ? [b.getSouth(), b.getWest(), b.getNorth(), b.getEast()].map(function (v) { return v.toFixed(6); }).join(",") : "";
  }
  map.on("moveend", sync);
  use.addEventListener("change", sync);
})();
