/* A voice answer recorded in central's browser (issue 15): Record, Stop, listen, Record
 * again, then Send. The recording is put into the form's file input, so the form is
 * sent exactly as with a chosen file (the fallback without a microphone or without
 * this script). getUserMedia needs a secure context: central is served over HTTPS. */
(function () {
  "use strict";
  var form = document.getElementById("answer");
  var box = document.getElementById("recorder");
  if (!form || !box) return;
  var md = navigator.mediaDevices;
  if (!window.MediaRecorder || !md || !md.getUserMedia) return;

  var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 3000000;
  var maxSeconds = 180;
  var input = document.getElementById("voice-file");
  var start = document.getElementById("rec-start");
  var stop = document.getElementById("rec-stop");
  var again = document.getElementById("rec-again");
  var time = document.getElementById("rec-time");
  var preview = document.getElementById("rec-preview");
  var problem = document.getElementById("rec-error");
  var recorder = null, stream = null, timer = null, chunks = [], blob = null, attached = false;

  function pickType() {
    var types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm"];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported && MediaRecorder.isTypeSupported(types[i])) return types[i];
    }
    return "";
  }

  function show(el, on) { el.hidden = !on; }

  function clock(s) {
    var m = Math.floor(s / 60), r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }

  function attach(b) {
    attached = false;
    var ext = b.type.indexOf("ogg") >= 0 ? "ogg" : "webm";
    try {
      var dt = new DataTransfer();
      dt.items.add(new File([b], "answer." + ext, { type: b.type }));
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
    show(stop, false); show(time, false); show(start, false); show(again, true);
    if (blob.size > maxBytes) { blob = null; show(problem, true); return; }
    preview.src = URL.createObjectURL(blob);
    show(preview, true);
    attach(blob);
    form.setAttribute("data-recorded", String(blob.size));
  }

  function begin() {
    show(problem, false);
    if (preview.src) { URL.revokeObjectURL(preview.src); preview.removeAttribute("src"); }
    blob = null; attached = false; input.value = "";
    form.removeAttribute("data-recorded");
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
  again.addEventListener("click", begin);
  stop.addEventListener("click", function () {
    if (recorder && recorder.state === "recording") recorder.stop();
  });

  // A browser that cannot put a recording into a file input sends the form itself.
  form.addEventListener("submit", function (e) {
    if (!blob || attached) return;
    e.preventDefault();
    var data = new FormData(form);
    data.set("voice", blob, "answer.webm");
    fetch(form.action || window.location.href, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) {
        if (r.redirected) { window.location = r.url; return null; }
        return r.text();
      })
      .then(function (html) {
        if (html !== null) { document.open(); document.write(html); document.close(); }
      });
  });

  show(box, true);
})();
