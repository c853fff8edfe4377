/* A learner's reading recorded in the page, and a photo of their writing made smaller
 * (issue 20): progressive enhancements of each exercise form of a lesson. Without this
 * script, or without a microphone API (plain HTTP on a phone: not a secure context), the form keeps its file
 * input (accept="audio/*" capture), which opens the phone's own recorder. With it:
 * Record, Stop, listen, Record again; the recording fills the file input, so the form is
 * sent exactly as without JavaScript. Plain ES5 for old phones. */
(function () {
  "use strict";
  var md = navigator.mediaDevices;
  var MAX_SIDE = 1600; // a page of handwriting stays legible; a 12 MP photo is 4 MB

  /* A photo of the learner's writing, made smaller before it is sent: at most MAX_SIDE
   * pixels on its long side, JPEG at 0.8 (a phone camera's 3-5 MB become ~300 kB: under
   * the box's limit, and cheaper to sync). The original is kept where the browser
   * cannot draw it or where it is already smaller. */
  function shrinkPhotos(form) {
    var input = form.querySelector("input[type=file][accept^=image]");
    if (!input || !window.createImageBitmap || !window.DataTransfer) return;
    input.addEventListener("change", function () {
      var f = input.files && input.files[0];
      if (!f || f.type.indexOf("image/") !== 0) return;
      form.setAttribute("data-shrinking", "1");
      function done() { form.removeAttribute("data-shrinking"); }
      createImageBitmap(f).then(function (bmp) {
        var scale = Math.min(1, MAX_SIDE / Math.max(bmp.width, bmp.height));
        var c = document.createElement("canvas");
        c.width = Math.round(bmp.width * scale);
        c.height = Math.round(bmp.height * scale);
        c.getContext("2d").drawImage(bmp, 0, 0, c.width, c.height);
        c.toBlob(function (b) {
          if (b && b.size < f.size) {
            try {
              var dt = new DataTransfer();
              dt.items.add(new File([b], "writing.jpg", { type: "image/jpeg" }));
              input.files = dt.files;
              form.setAttribute("data-shrunk", b.size);
            } catch (e) { /* keep the original */ }
          }
          done();
        }, "image/jpeg", 0.8);
      }, done);
    });
    form.addEventListener("submit", function (e) {
      if (form.hasAttribute("data-shrinking")) e.preventDefault();
    });
  }
  var photos = document.querySelectorAll("form.work[data-type=photo]");
  for (var j = 0; j < photos.length; j++) shrinkPhotos(photos[j]);

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
