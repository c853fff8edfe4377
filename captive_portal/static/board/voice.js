/* Voice notes recorded in the browser: a progressive enhancement of the board's form.
 * Without this script (or without a microphone API) the form still has its file input
 * (accept="audio/*" capture), which opens the phone's own recorder, and its text box.
 * With it: Record, Stop, listen, Record again; the recording replaces the file input's
 * content, so the form is sent exactly as without JavaScript. Plain ES5 for old phones. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-max-seconds]");
  var box = document.getElementById("recorder");
  if (!form || !box) return;
  var md = navigator.mediaDevices;
  if (!window.MediaRecorder || !md || !md.getUserMedia || !window.Blob) return;

  var maxSeconds = parseInt(form.getAttribute("data-max-seconds"), 10) || 180;
  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 3000000;
  var input = document.getElementById("voice");
  var start = document.getElementById("rec-start");
  var stop = document.getElementById("rec-stop");
  var again = document.getElementById("rec-again");
  var time = document.getElementById("rec-time");
  var preview = document.getElementById("rec-preview");
  var problem = document.getElementById("rec-error");
  var recorder = null, stream = null, timer = null, chunks = [], blob = null, attached = false;

  function pickType() {
    var types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
    if (!MediaRecorder.isTypeSupported) return "";
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported(types[i])) return types[i];
    }
    return "";
  }

  // A button may sit in a "said" wrapper with its speaker: both come and go together.
  function show(el, on) {
    if (!el) return;
    el.hidden = !on;
    var p = el.parentNode;
    if (p && (" " + p.className + " ").indexOf(" said ") >= 0) p.hidden = !on;
  }

  function clock(s) {
    var m = Math.floor(s / 60), r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }

  function attach(b) {
    attached = false;
    var ext = b.type.indexOf("ogg") >= 0 ? "ogg" : b.type.indexOf("mp4") >= 0 ? "m4a" : "webm";
    try {
      var dt = new DataTransfer();
      dt.items.add(new File([b], "voice." + ext, { type: b.type }));
      input.files = dt.files;
      attached = input.files.length === 1;
    } catch (e) { attached = false; }
  }

  function finish() {
    clearInterval(timer);
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    blob = new Blob(chunks, { type: (recorder && recorder.mimeType) || "audio/webm" });
    chunks = [];
    if (blob.size > maxBytes) { blob = null; show(problem, true); return; }
    preview.src = URL.createObjectURL(blob);
    show(preview, true); show(again, true); show(stop, false); show(time, false);
    attach(blob);
    form.setAttribute("data-recorded", blob.size);
  }

  function begin() {
    show(problem, false);
    md.getUserMedia({ audio: true }).then(function (s) {
      stream = s;
      var type = pickType();
      var options = { audioBitsPerSecond: 24000 };
      if (type) options.mimeType = type;
      recorder = new MediaRecorder(s, options);
      recorder.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
      recorder.onstop = finish;
      recorder.start(1000);
      var seconds = 0;
      time.textContent = clock(0);
      show(time, true); show(stop, true); show(start, false); show(again, false);
      show(preview, false);
      timer = setInterval(function () {
        seconds += 1;
        time.textContent = clock(seconds) + " / " + clock(maxSeconds);
        if (seconds >= maxSeconds && recorder.state === "recording") recorder.stop();
      }, 1000);
    }, function () {
      show(problem, true); show(start, true);
    });
  }

  start.addEventListener("click", begin);
  stop.addEventListener("click", function () {
    if (recorder && recorder.state === "recording") recorder.stop();
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
