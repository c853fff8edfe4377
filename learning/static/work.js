/* A learner's reading recorded in the page, and a photo of their writing made smaller
 * (issue 20): progressive enhancements of each exercise form of a lesson. Without this
 * script, or without a microphone API (plain HTTP on a phone: not a secure context), the
 * form keeps its file input (accept="audio/*" capture), which opens the phone's own
 * recorder. With it: Record, Stop, listen, Record again; the recording fills the file
 * input, so the form is sent exactly as without JavaScript. The recording itself is the
 * box's one recorder (appliance/static/recorder.js, loaded first), shared with the
 * board. Plain ES5 for old phones. */
(function () {
  "use strict";
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

  var rec = window.EspaceRecorder; // /js/recorder.js, loaded before this script
  if (!rec || !rec.supported()) return;
  var forms = document.querySelectorAll("form[data-max-seconds]");

  function setUp(form) {
    var box = form.querySelector(".recorder");
    var input = form.querySelector("input[type=file][accept^=audio]");
    if (!box || !input) return;
    var start = box.querySelector(".rec-start"), stop = box.querySelector(".rec-stop");
    var time = box.querySelector(".rec-time"), preview = box.querySelector(".rec-preview");
    var problem = box.querySelector(".rec-error");
    var maxSeconds = parseInt(form.getAttribute("data-max-seconds"), 10) || 180;
    var maxBytes = parseInt(form.getAttribute("data-max-bytes"), 10) || 3000000;
    var stopRecording = null, blob = null, attached = false;

    function finish(b) {
      blob = b;
      stop.hidden = true; time.hidden = true; start.hidden = false;
      if (blob.size > maxBytes) { blob = null; problem.hidden = false; return; }
      preview.src = URL.createObjectURL(blob);
      preview.hidden = false;
      attached = rec.attach(input, blob, "recording");
      form.setAttribute("data-recorded", blob.size);
    }

    start.addEventListener("click", function () {
      problem.hidden = true;
      stopRecording = rec.record(maxSeconds, {
        tick: function (text) { time.textContent = text; },
        started: function () {
          time.hidden = false; stop.hidden = false; start.hidden = true; preview.hidden = true;
          form.removeAttribute("data-recorded");
        },
        stopped: finish,
        failed: function () { problem.hidden = false; }
      });
    });
    stop.addEventListener("click", function () {
      if (stopRecording) stopRecording();
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
