/* The box's one in-page recorder: what the board's voice notes (captive_portal's
 * board/voice.js, also on the kiosk) and a learner's reading (learning's work.js) share.
 * Each page keeps its own buttons and fallbacks and loads this file first; without it,
 * or without a microphone API (plain HTTP on a phone is not a secure context), the pages
 * keep their file input, which opens the phone's own recorder. Central has its own copy
 * (central ships nothing of the box). Plain ES5 for old phones. */
(function () {
  "use strict";
  var md = navigator.mediaDevices;
  var TYPES = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/mp4", "audio/webm"];

  function supported() {
    return !!(window.MediaRecorder && md && md.getUserMedia && window.Blob);
  }

  function pickType() {
    if (!MediaRecorder.isTypeSupported) return "";
    for (var i = 0; i < TYPES.length; i++) {
      if (MediaRecorder.isTypeSupported(TYPES[i])) return TYPES[i];
    }
    return "";
  }

  function clock(s) {
    var m = Math.floor(s / 60), r = s % 60;
    return m + ":" + (r < 10 ? "0" : "") + r;
  }

  /* Put the recording into the form's file input, so the form is sent exactly as with a
   * chosen file; false where the browser cannot (the page then sends it itself). */
  function attach(input, blob, base) {
    var t = blob.type;
    var ext = t.indexOf("ogg") >= 0 ? "ogg" : t.indexOf("mp4") >= 0 ? "m4a" : "webm";
    try {
      var dt = new DataTransfer();
      dt.items.add(new File([blob], base + "." + ext, { type: t }));
      input.files = dt.files;
      return input.files.length === 1;
    } catch (e) { return false; }
  }

  /* Ask for the microphone and record, at most maxSeconds. on.started() once recording,
   * on.tick(text) with "0:00" then each second "m:ss / m:ss"; on.stopped(blob) once the
   * microphone is released; on.failed() when it could not be had. Returns stop(). */
  function record(maxSeconds, on) {
    var recorder = null, stream = null, timer = null, chunks = [];

    function finish() {
      clearInterval(timer);
      if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
      stream = null;
      var blob = new Blob(chunks, { type: (recorder && recorder.mimeType) || "audio/webm" });
      chunks = [];
      on.stopped(blob);
    }

    md.getUserMedia({ audio: true }).then(function (s) {
      stream = s;
      var type = pickType(), options = { audioBitsPerSecond: 24000 };
      if (type) options.mimeType = type;
      recorder = new MediaRecorder(s, options);
      recorder.ondataavailable = function (e) { if (e.data && e.data.size) chunks.push(e.data); };
      recorder.onstop = finish;
      recorder.start(1000);
      var seconds = 0;
      on.tick(clock(0));
      on.started();
      timer = setInterval(function () {
        seconds += 1;
        on.tick(clock(seconds) + " / " + clock(maxSeconds));
        if (seconds >= maxSeconds && recorder.state === "recording") recorder.stop();
      }, 1000);
    }, function () { on.failed(); });

    return function stop() {
      if (recorder && recorder.state === "recording") recorder.stop();
    };
  }

  window.EspaceRecorder = { supported: supported, record: record, attach: attach };
})();
