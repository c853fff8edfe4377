/* Voice notes recorded in the browser: a progressive enhancement of the board's form.
 * Without this script (or without a microphone API) the form still has its file input
 * (accept="audio/*" capture), which opens the phone's own recorder, and its text box.
 * With it: Record, Stop, listen, Record again; the recording replaces the file input's
 * content, so the form is sent exactly as without JavaScript. The recording itself is the
 * box's one recorder (appliance/static/recorder.js, loaded first), shared with the
 * learner's reading. Plain ES5 for old phones. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-max-seconds]");
  var box = document.getElementById("recorder");
  if (!form || !box) return;
  var rec = window.EspaceRecorder; // /js/recorder.js, loaded before this script
  if (!rec || !rec.supported()) return;

  var maxSeconds = parseInt(form.getAttribute("data-max-seconds"), 10) || 180;
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 3000000;
  var input = document.getElementById("voice");
  var start = document.getElementById("rec-start");
  var stop = document.getElementById("rec-stop");
  var again = document.getElementById("rec-again");
  var time = document.getElementById("rec-time");
  var preview = document.getElementById("rec-preview");
  var problem = document.getElementById("rec-error");
  var stopRecording = null, blob = null, attached = false;

  // A button may sit in a "said" wrapper with its speaker: both come and go together.
  function show(el, on) {
    if (!el) return;
    el.hidden = !on;
    var p = el.parentNode;
    if (p && (" " + p.className + " ").indexOf(" said ") >= 0) p.hidden = !on;
  }

  function finish(b) {
    blob = b;
    if (blob.size > maxBytes) { blob = null; show(problem, true); return; }
    preview.src = URL.createObjectURL(blob);
    show(preview, true); show(again, true); show(stop, false); show(time, false);
    attached = rec.attach(input, blob, "voice");
    form.setAttribute("data-recorded", blob.size);
  }

  function begin() {
    show(problem, false);
    stopRecording = rec.record(maxSeconds, {
      tick: function (text) { time.textContent = text; },
      started: function () {
        show(time, true); show(stop, true); show(start, false); show(again, false);
        show(preview, false);
      },
      stopped: finish,
      failed: function () { show(problem, true); show(start, true); }
    });
  }

  start.addEventListener("click", begin);
  stop.addEventListener("click", function () {
    if (stopRecording) stopRecording();
  });
  again.addEventListener("click", function () {
    blob = null; attached = false; input.value = "";
    form.removeAttribute("data-recorded");
    if (preview.src) { URL.revokeObjectURL(preview.src); preview.removeAttribute("src"); }
    begin();
  });

  // Browsers that cannot put a recording into a file input send the form themselves.
  form.addEventListener("submit", function (e) {
    if (!blob || attached || !window.FormData || !window.fetch) return;
    e.preventDefault();
    var data = new FormData(form);
    data.set("voice", blob, "voice.webm");
    fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) {
        if (r.redirected) { window.location = r.url; return null; }
        return r.text();
      })
      .then(function (html) {
        if (html !== null) { document.open(); document.write(html); document.close(); }
      }, function () { form.submit(); });
  });

  show(box, true);
  var label = document.getElementById("voice-label");
  if (label) label.className += " muted";
})();
