/* A voice note recorded in central's browser: an admin's answer to a post (issue 15) and
 * a trainer's answer to a learner's work (issue 20). Each form with data-max-seconds and
 * a .recorder inside records into its audio file input: Record, Stop, listen, Record
 * again (.rec-again, where the form has one), then the form is sent exactly as with a
 * chosen file, the fallback without a microphone or without this script. The form's
 * data-types lists the recording types its server takes, preferred first. The box's
 * learning/static/work.js does the same for learners (central ships nothing of the box's
 * packages). getUserMedia needs a secure context: central is served over HTTPS. ES5. */
(function () {
  "use strict";
  var md = navigator.mediaDevices;
  if (!window.MediaRecorder || !md || !md.getUserMedia || !window.Blob) return;
  var DEFAULT_TYPES = "audio/webm;codecs=opus,audio/ogg;codecs=opus,audio/mp4,audio/webm";

  function pickType(types) {
    if (!MediaRecorder.isTypeSupported) return "";
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported(types[i])) return types[i];
    }
    return "";
  }

  function clock(s) {
    var m = Math.floor(s / 60), r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }

  function show(el, on) { if (el) el.hidden = !on; }

  function setUp(form) {
    var box = form.querySelector(".recorder");
    var input = form.querySelector("input[type=file][accept^=audio]");
    if (!box || !input) return;
    var start = box.querySelector(".rec-start"), stop = box.querySelector(".rec-stop");
    var again = box.querySelector(".rec-again"), time = box.querySelector(".rec-time");
    var preview = box.querySelector(".rec-preview"), problem = box.querySelector(".rec-error");
    var maxSeconds = parseInt(form.getAttribute("data-max-seconds"), 10) || 180;
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 3000000;
    var types = (form.getAttribute("data-types") || DEFAULT_TYPES).split(",");
    var recorder = null, stream = null, timer = null, chunks = [], blob = null, attached = false;

    function extension(type) {
      return type.indexOf("ogg") >= 0 ? "ogg" : type.indexOf("mp4") >= 0 ? "m4a" : "webm";
    }

    function attach(b) {
      attached = false;
      try {
        var dt = new DataTransfer();
        dt.items.add(new File([b], "recording." + extension(b.type), { type: b.type }));
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
      show(stop, false); show(time, false);
      show(start, !again); show(again, !!again);
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
        var type = pickType(types), options = { audioBitsPerSecond: 24000 };
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
      }, function () { show(problem, true); show(start, true); });
    }

    start.addEventListener("click", begin);
    if (again) again.addEventListener("click", begin);
    stop.addEventListener("click", function () {
      if (recorder && recorder.state === "recording") recorder.stop();
    });

    // A browser that cannot put a recording into a file input sends the form itself;
    // a refusal comes back as the page with its message, shown as it is.
    form.addEventListener("submit", function (e) {
      if (!blob || attached || !window.FormData || !window.fetch) return;
      e.preventDefault();
      var data = new FormData(form);
      data.set(input.name, blob, "recording." + extension(blob.type));
      fetch(form.action || window.location.href,
            { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) {
          if (r.redirected) { window.location = r.url; return null; }
          return r.text();
        }, function () { form.submit(); return null; })
        .then(function (html) {
          if (html !== null) { document.open(); document.write(html); document.close(); }
        });
    });
    show(box, true);
  }

  var forms = document.querySelectorAll("form[data-max-seconds]");
  for (var i = 0; i < forms.length; i++) setUp(forms[i]);
})();
