/* A trainer's voice answer recorded in the page (issue 20). The same script as the box's
 * learning/static/work.js (central ships nothing of the box's packages): each form with
 * data-max-seconds and a .recorder records into its audio file input. Plain ES5. */
(function () {
  "use strict";
  var md = navigator.mediaDevices;
  if (!window.MediaRecorder || !md || !md.getUserMedia || !window.Blob) return;
  var forms = document.querySelectorAll("form[data-max-seconds]");

  function pickType() {
    var types = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];
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

  function setUp(form) {
    var box = form.querySelector(".recorder");
    var input = form.querySelector("input[type=file][accept^=audio]");
    if (!box || !input) return;
    var start = box.querySelector(".rec-start"), stop = box.querySelector(".rec-stop");
    var time = box.querySelector(".rec-time"), preview = box.querySelector(".rec-preview");
    var problem = box.querySelector(".rec-error");
    var maxSeconds = parseInt(form.getAttribute("data-max-seconds"), 10) || 180;
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 3000000;
    var recorder = null, stream = null, timer = null, chunks = [], blob = null, attached = false;

    function attach(b) {
      attached = false;
      var ext = b.type.indexOf("ogg") >= 0 ? "ogg" : b.type.indexOf("mp4") >= 0 ? "m4a" : "webm";
      try {
        var dt = new DataTransfer();
        dt.items.add(new File([b], "recording." + ext, { type: b.type }));
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
      stop.hidden = true; time.hidden = true; start.hidden = false;
      if (blob.size > maxBytes) { blob = null; problem.hidden = false; return; }
      preview.src = URL.createObjectURL(blob);
      preview.hidden = false;
      attach(blob);
      form.setAttribute("data-recorded", blob.size);
    }

    start.addEventListener("click", function () {
      problem.hidden = true;
      md.getUserMedia({ audio: true }).then(function (s) {
        stream = s;
        var type = pickType(), options = { audioBitsPerSecond: 24000 };
        if (type) options.mimeType = type;
        recorder = new MediaRecorder(s, options);
        recorder.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
        recorder.onstop = finish;
        recorder.start(1000);
        var seconds = 0;
        time.textContent = clock(0);
        time.hidden = false; stop.hidden = false; start.hidden = true; preview.hidden = true;
        form.removeAttribute("data-recorded");
        timer = setInterval(function () {
          seconds += 1;
          time.textContent = clock(seconds) + " / " + clock(maxSeconds);
          if (seconds >= maxSeconds && recorder.state === "recording") recorder.stop();
        }, 1000);
      }, function () { problem.hidden = false; });
    });
    stop.addEventListener("click", function () {
      if (recorder && recorder.state === "recording") recorder.stop();
    });

    // Browsers that cannot put a recording into a file input send the form themselves.
    form.addEventListener("submit", function (e) {
      if (!blob || attached || !window.FormData || !window.fetch) return;
      e.preventDefault();
      var data = new FormData(form);
      data.set(input.name, blob, "recording.webm");
      fetch(form.action, { method: "POST", body: data, credentials: "same-origin" })
        .then(function (r) { window.location = r.url; }, function () { form.submit(); });
    });
    box.hidden = false;
  }

  for (var i = 0; i < forms.length; i++) setUp(forms[i]);
})();
