/* The map page: Leaflet with the area's PMTiles as a vector layer (protomaps-leaflet,
   read by HTTP ranges), the directory's points, the espace and its next sessions. A tap
   on the map offers to propose an organisation there. Plain ES5 for old phones. */
(function () {
  "use strict";
  var el = document.getElementById("map");
  var data = JSON.parse(document.getElementById("map-data").textContent);
  if (!el || !window.L || !window.protomapsL) return;
  var a = data.area; // [west, south, east, north]
  var bounds = L.latLngBounds([a[1], a[0]], [a[3], a[2]]);
  var map = L.map(el, {maxBounds: bounds.pad(0.2), minZoom: 10, maxZoom: 17,
                       zoomSnap: 1, tap: true});
  window.espaceMap = map;
  map.attributionControl.setPrefix("Leaflet");
  if (data.tiles) {
    protomapsL.leafletLayer({url: data.tiles, flavor: "light", lang: data.lang,
                             maxDataZoom: data.maxZoom,
                             attribution: "© OpenStreetMap contributors"}).addTo(map);
  } else {
    map.attributionControl.addAttribution("© OpenStreetMap contributors");
  }
  var focus = null;
  for (var i = 0; i < data.places.length; i++) {
    var p = data.places[i];
    var m = L.marker([p.lat, p.lon], {
      icon: L.divIcon({className: "pin pin-" + p.kind, html: p.icon, iconSize: [28, 28]}),
      title: p.name, keyboard: true});
    var link = document.createElement("a");
    link.href = data.placeUrl.replace("UUID", p.uuid);
    link.textContent = p.name;
    m.bindPopup(link).addTo(map);
    if (p.uuid === data.focus) focus = m;
  }
  if (data.box) {
    var box = document.createElement("div");
    var title = document.createElement("strong");
    title.textContent = data.boxName;
    box.appendChild(title);
    for (var j = 0; j < data.sessions.length; j++) {
      var s = data.sessions[j], line = document.createElement("a");
      line.href = s.url;
      line.textContent = s.when + " " + s.title;
      line.style.display = "block";
      box.appendChild(line);
    }
    L.marker(data.box, {icon: L.divIcon({className: "pin pin-box", html: "◉",
                                         iconSize: [32, 32]}), title: data.boxName})
      .bindPopup(box).addTo(map);
  }
  if (focus) { map.setView(focus.getLatLng(), 16); focus.openPopup(); }
  else if (data.box) map.setView(data.box, 14);
  else map.fitBounds(bounds);
  map.on("click", function (e) {
    if (!bounds.contains(e.latlng)) return;
    var lat = e.latlng.lat.toFixed(6), lon = e.latlng.lng.toFixed(6);
    var a2 = document.createElement("a");
    a2.href = data.proposeUrl + "?lat=" + lat + "&lon=" + lon;
    a2.id = "propose-here";
    a2.className = "btn";
    a2.textContent = data.proposeText;
    L.popup().setLatLng(e.latlng).setContent(a2).openOn(map);
  });
})();
