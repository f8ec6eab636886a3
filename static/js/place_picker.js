// Place picker (a site's form, the tip form): tap the map to fill latitude and longitude, typing coordinates
// moves the pin, "Use my current location" fills them from the phone. Each form works without this script
// (coordinates can always be typed), and without a map (the tip form shows none unless tiles are our own).
(function () {
  "use strict";
  var el = document.getElementById("place-map");
  var lat = document.getElementById("id_latitude");
  var lng = document.getElementById("id_longitude");
  if (!lat || !lng) return;
  var map = null, marker = null;
  if (el && window.L) {
    var center = (el.dataset.center || "42.3314,-83.0458").split(",").map(Number);
    var start = lat.value && lng.value ? [Number(lat.value), Number(lng.value)] : center;
    map = L.map(el).setView(start, lat.value ? 16 : 12);
    if (el.dataset.tileUrl) {
      // If the tile server cannot be reached the map stays grey, and the pin still works.
      L.tileLayer(el.dataset.tileUrl, { maxZoom: 19 }).addTo(map);
    }
    if (lat.value) marker = L.marker(start).addTo(map);
    map.on("click", function (e) { place(e.latlng.lat, e.latlng.lng); });
  }
  function pin(a, b) {
    if (!map) return;
    if (marker) marker.setLatLng([a, b]); else marker = L.marker([a, b]).addTo(map);
  }
  function place(a, b) {
    lat.value = a.toFixed(6);
    lng.value = b.toFixed(6);
    pin(a, b);
  }
  function typed() {
    var a = Number(lat.value), b = Number(lng.value);
    if (lat.value && lng.value && isFinite(a) && isFinite(b) && Math.abs(a) <= 90 && Math.abs(b) <= 180) {
      pin(a, b);
      if (map) map.panTo([a, b]);
    }
  }
  lat.addEventListener("change", typed);
  lng.addEventListener("change", typed);
  var here = document.getElementById("use-location");
  var status = document.getElementById("use-location-status");
  if (here && navigator.geolocation) {
    here.hidden = false;  // hidden in the page: without this script it could do nothing
    here.addEventListener("click", function () {
      if (status) status.textContent = here.dataset.finding || "";
      navigator.geolocation.getCurrentPosition(function (pos) {
        place(pos.coords.latitude, pos.coords.longitude);
        if (map) map.setView([pos.coords.latitude, pos.coords.longitude], 17);
        if (status) status.textContent = here.dataset.found || "";
      }, function () {
        if (status) status.textContent = here.dataset.failed || "";
      });
    });
  } else if (here) { here.hidden = true; }
})();
