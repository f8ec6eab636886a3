// Site form: tap the map to fill latitude and longitude; typing coordinates moves the pin.
// The form works without this script (coordinates can always be typed).
(function () {
  "use strict";
  var el = document.getElementById("site-map");
  var lat = document.getElementById("id_latitude");
  var lng = document.getElementById("id_longitude");
  if (!el || !lat || !lng || !window.L) return;
  var center = (el.dataset.center || "42.3314,-83.0458").split(",").map(Number);
  var start = lat.value && lng.value ? [Number(lat.value), Number(lng.value)] : center;
  var map = L.map(el).setView(start, lat.value ? 16 : 12);
  if (el.dataset.tileUrl) {
    // If the tile server cannot be reached the map stays grey, and the pin still works.
    L.tileLayer(el.dataset.tileUrl, { maxZoom: 19 }).addTo(map);
  }
  var marker = lat.value ? L.marker(start).addTo(map) : null;
  function place(latlng) {
    lat.value = latlng.lat.toFixed(6);
    lng.value = latlng.lng.toFixed(6);
    if (marker) marker.setLatLng(latlng); else marker = L.marker(latlng).addTo(map);
  }
  map.on("click", function (e) { place(e.latlng); });
  function typed() {
    var a = Number(lat.value), b = Number(lng.value);
    if (lat.value && lng.value && isFinite(a) && isFinite(b) && Math.abs(a) <= 90 && Math.abs(b) <= 180) {
      if (marker) marker.setLatLng([a, b]); else marker = L.marker([a, b]).addTo(map);
      map.panTo([a, b]);
    }
  }
  lat.addEventListener("change", typed);
  lng.addEventListener("change", typed);
  var here = document.getElementById("use-location");
  if (here && navigator.geolocation) {
    here.addEventListener("click", function () {
      navigator.geolocation.getCurrentPosition(function (pos) {
        var p = L.latLng(pos.coords.latitude, pos.coords.longitude);
        place(p); map.setView(p, 17);
      });
    });
  } else if (here) { here.hidden = true; }
})();
