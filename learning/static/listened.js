/* A lesson's audio or video played to the end marks it listened, as the "I listened to
 * the end" button does without JavaScript. The phone's link to the box is Wi-Fi that
 * drops, and a box whose database is busy answers 503 with Retry-After: the mark is sent
 * again (Retry-After honoured, waits doubling from 1 s to a minute), and kept as long as
 * the page is open: sent at once when the phone is back online, and as a beacon when the
 * page is hidden or left. The box counts a mark once however often it comes
 * (learning.rules.record). Sent, the button gives way to the tick. Plain ES5. */
(function () {
  "use strict";
  var media = document.getElementById("lesson-media");
  var form = document.getElementById("listened");
  if (!media || !form || !window.fetch || !window.FormData) return;
  var FIRST = 1, LONGEST = 60; // seconds between tries: 1, 2, 4 ... then each minute
  var state = "idle"; // idle, sending, waiting (a try is due), sent
  var tries = 0, timer = null;

  function body() {
    var d = new FormData(form);
    d.append("js", "1");
    return d;
  }

  // Seconds or an HTTP date; 0 when absent or unreadable.
  function retryAfter(value) {
    if (!value) return 0;
    var s = parseInt(value, 10);
    if (isNaN(s)) s = Math.ceil((Date.parse(value) - Date.now()) / 1000);
    return isNaN(s) || s < 0 ? 0 : Math.min(s, LONGEST);
  }

  function sent() {
    state = "sent";
    var button = form.querySelector("button"), tick = form.querySelector(".ok");
    if (button && tick) { button.hidden = true; tick.hidden = false; }
  }

  function again(wait) {
    var backoff = Math.min(LONGEST, FIRST * Math.pow(2, tries));
    tries += 1;
    state = "waiting";
    timer = setTimeout(send, 1000 * Math.max(backoff, wait));
  }

  function send() {
    clearTimeout(timer);
    state = "sending";
    fetch(form.action, { method: "POST", body: body(), credentials: "same-origin" })
      .then(function (r) {
        if (r.ok) sent();
        else if (r.status >= 500) again(retryAfter(r.headers.get("Retry-After")));
        else state = "idle"; // refused (an old page's token): a new try would be too
      }, function () { again(0); });
  }

  media.addEventListener("ended", function () {
    if (state === "idle") { tries = 0; send(); }
  });
  window.addEventListener("online", function () {
    if (state === "waiting") { tries = 0; send(); }
  });
  // Leaving with a mark not yet acknowledged: one last try that outlives the page.
  function leaving() {
    if ((state === "sending" || state === "waiting") && navigator.sendBeacon) {
      navigator.sendBeacon(form.action, body());
    }
  }
  window.addEventListener("pagehide", leaving);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") leaving();
  });
})();
