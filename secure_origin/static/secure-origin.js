/* Tells a visitor page whether it runs in a secure context (HTTPS with a certificate the
 * phone trusts), where the microphone, location, crypto.randomUUID and service workers
 * exist. Plain ES5 for old phones; no network request.
 *
 *   espaceSecureOrigin.secure         true or false
 *   espaceSecureOrigin.can("microphone" | "location" | "uuid" | "offline")
 *
 * On plain HTTP every element with the attribute data-needs-secure is shown (it says
 * why a feature is missing), and every link with data-secure-link keeps the page's path
 * on the secure address given in its href. */
(function () {
  "use strict";
  var secure = !!window.isSecureContext;
  var tests = {
    microphone: function () {
      return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
    },
    location: function () { return secure && !!navigator.geolocation; },
    uuid: function () { return !!(window.crypto && window.crypto.randomUUID); },
    offline: function () { return !!navigator.serviceWorker; }
  };
  window.espaceSecureOrigin = {
    secure: secure,
    can: function (name) { return !!(tests[name] && tests[name]()); }
  };
  document.documentElement.setAttribute("data-secure-context", secure ? "yes" : "no");
  if (secure) return;
  function reveal() {
    var notes = document.querySelectorAll("[data-needs-secure]");
    for (var i = 0; i < notes.length; i++) notes[i].hidden = false;
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", reveal);
  else reveal();
})();
