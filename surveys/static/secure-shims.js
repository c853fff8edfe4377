/* What ODK Web Forms uses that a browser gives only to secure origins: the box is
   plain HTTP on the hotspot (http://10.42.0.1), where crypto.randomUUID is missing.
   crypto.getRandomValues is there on every origin: an RFC 4122 version 4 UUID from it.
   Loaded before any module. Plain ES5. */
(function () {
  "use strict";
  var c = window.crypto;
  if (!c || typeof c.getRandomValues !== "function" || typeof c.randomUUID === "function") return;
  function randomUUID() {
    var b = c.getRandomValues(new Uint8Array(16)), h = [], i;
    b[6] = (b[6] & 0x0f) | 0x40; // version 4
    b[8] = (b[8] & 0x3f) | 0x80; // variant 10xx
    for (i = 0; i < 16; i++) h.push((b[i] + 0x100).toString(16).slice(1));
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" +
      h.slice(6, 8).join("") + "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }
  try {
    Object.defineProperty(Object.getPrototypeOf(c), "randomUUID",
      {value: randomUUID, configurable: true, writable: true});
  } catch (e) {
    c.randomUUID = randomUUID;
  }
})();
