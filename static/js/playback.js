// Playback of a camera's recordings with Media Source Extensions. Each ~10 s segment is a self-contained
// fragmented MP4 (its own init), fetched over a link that expires within minutes and appended at its
// wall-clock place: media time t is the wall time windowStart + t seconds, so the clock is exact and gaps
// in the recording stay gaps (the player jumps over them). The playlist (recordings.json, audited on every
// call) is asked for ten minutes at a time, and again whenever its links are about to expire.
(function () {
  "use strict";
  var root = document.getElementById("player");
  if (!root || !window.MediaSource) {
    if (root) document.getElementById("playback-status").textContent = "This browser cannot play recordings (no Media Source Extensions).";
    return;
  }
  var config = JSON.parse(document.getElementById("playback-config").textContent);
  var video = document.getElementById("playback-video");
  var playButton = document.getElementById("playback-play");
  var speed = document.getElementById("playback-speed");
  var clock = document.getElementById("playback-clock");
  var position = document.getElementById("playback-position");
  var track = document.getElementById("playback-track");
  var statusLine = document.getElementById("playback-status");

  var origin = config.windowStart; // the wall time (ms) at media time 0
  var CHUNK_MS = 10 * 60 * 1000; // what one playlist asks for
  var AHEAD_MS = 30 * 1000; // how far ahead of the playhead segments are loaded
  var BEHIND_S = 60; // how much already played stays buffered for a quick step back
  var LINK_MARGIN_MS = 30 * 1000; // links with less than this left are not used; the playlist is asked again
  var EDGE_POLL_MS = 15 * 1000; // at the end of what is recorded, how often to look for more

  var state = {
    playlist: null, // {since, until, expiresAt, segments: [{start, end, url, sha256}]} (times in ms)
    next: 0, // index of the next segment to append
    appendedEnd: null, // wall time where the appended footage ends
    generation: 0, // bumped by each seek, so that work for an old position is dropped
    busy: false,
    wantPlay: false,
    scrubbing: false,
    edgeUntil: 0, // no new look for footage past the end before this time
    playlistFetches: 0,
  };
  window.lanternPlayback = { state: state, video: video, wallNow: wallNow, seek: seek }; // for tests

  var mediaSource = new MediaSource();
  var sourceBuffer = null;
  video.src = URL.createObjectURL(mediaSource);
  var opened = new Promise(function (resolve) { mediaSource.addEventListener("sourceopen", resolve, { once: true }); });

  // ------------------------------------------------------------ time and display

  var parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: config.timeZone, year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  function format(ms) {
    var p = {};
    parts.formatToParts(new Date(ms)).forEach(function (x) { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute + ":" + p.second;
  }
  function wallNow() { return origin + video.currentTime * 1000; }
  function setStatus(text) { statusLine.textContent = text || ""; }
  function showClock(ms) {
    clock.textContent = format(ms);
    clock.dataset.wallMs = String(Math.round(ms));
    if (!state.scrubbing) {
      position.value = String(ms);
      position.setAttribute("aria-valuetext", format(ms));
    }
  }

  function drawTimeline() {
    var span = config.windowEnd - config.windowStart;
    track.textContent = "";
    config.coverage.forEach(function (range) {
      var start = Math.max(range[0], config.windowStart), end = Math.min(range[1], config.windowEnd);
      if (end <= start) return;
      var bar = document.createElement("div");
      bar.className = "timeline-span";
      bar.style.left = ((start - config.windowStart) / span * 100) + "%";
      bar.style.width = ((end - start) / span * 100) + "%";
      track.appendChild(bar);
    });
    document.getElementById("playback-start").textContent = format(config.windowStart);
    document.getElementById("playback-end").textContent = format(config.windowEnd);
    position.max = String(config.windowEnd);
  }

  function addCoverage(segments) {
    // New footage shows up on the timeline as playlists reveal it.
    segments.forEach(function (s) {
      var joined = false;
      config.coverage.forEach(function (range) {
        if (s.start <= range[1] + 1000 && s.end >= range[0] - 1000) {
          range[0] = Math.min(range[0], s.start);
          range[1] = Math.max(range[1], s.end);
          joined = true;
        }
      });
      if (!joined) config.coverage.push([s.start, s.end]);
    });
    config.coverage.sort(function (a, b) { return a[0] - b[0]; });
    if (segments.length) config.windowEnd = Math.max(config.windowEnd, segments[segments.length - 1].end);
    drawTimeline();
  }

  function coverageFrom(ms) {
    // The first recorded moment at or after ms, or null.
    for (var i = 0; i < config.coverage.length; i++) {
      if (config.coverage[i][1] > ms) return Math.max(ms, config.coverage[i][0]);
    }
    return null;
  }

  // ------------------------------------------------------------ playlist and segments

  function fetchPlaylist(since) {
    var url = config.recordingsUrl + "?since=" + encodeURIComponent(new Date(since).toISOString()) +
      "&until=" + encodeURIComponent(new Date(since + CHUNK_MS).toISOString());
    state.playlistFetches += 1;
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (body) {
        if (!r.ok) throw new Error(body.detail || Object.values(body).join(" ") || "the server answered " + r.status);
        var segments = body.segments.map(function (s) {
          return { start: Date.parse(s.start), end: Date.parse(s.end), url: s.url, sha256: s.sha256 };
        });
        addCoverage(segments);
        return {
          since: Date.parse(body.since), until: Date.parse(body.until),
          expiresAt: Date.now() + body.expires_in * 1000, segments: segments,
        };
      });
    });
  }

  function fresh(playlist) { return playlist && playlist.expiresAt - LINK_MARGIN_MS > Date.now(); }

  function whenIdle() {
    if (!sourceBuffer || !sourceBuffer.updating) return Promise.resolve();
    return new Promise(function (resolve) { sourceBuffer.addEventListener("updateend", resolve, { once: true }); });
  }

  function codecOf(bytes) {
    // The avcC box in the segment's init says which H.264 profile and level: avc1.PPCCLL.
    var hex = function (b) { return (b < 16 ? "0" : "") + b.toString(16); };
    for (var i = 0; i + 8 < Math.min(bytes.length, 65536); i++) {
      if (bytes[i] === 0x61 && bytes[i + 1] === 0x76 && bytes[i + 2] === 0x63 && bytes[i + 3] === 0x43) {
        return "avc1." + hex(bytes[i + 5]) + hex(bytes[i + 6]) + hex(bytes[i + 7]);
      }
    }
    return "avc1.640028";
  }

  function append(bytes, offsetS) {
    return opened.then(function () {
      if (!sourceBuffer) {
        sourceBuffer = mediaSource.addSourceBuffer('video/mp4; codecs="' + codecOf(bytes) + '"');
        // In sequence mode the offset we set is where the segment's first picture lands, whatever
        // timestamps the camera gave it.
        sourceBuffer.mode = "sequence";
      }
      return whenIdle();
    }).then(function () {
      return new Promise(function (resolve, reject) {
        var failed = function () { reject(new Error("the browser could not play this segment")); };
        sourceBuffer.addEventListener("error", failed, { once: true });
        sourceBuffer.addEventListener("updateend", function () {
          sourceBuffer.removeEventListener("error", failed);
          resolve();
        }, { once: true });
        sourceBuffer.timestampOffset = offsetS;
        sourceBuffer.appendBuffer(bytes);
      });
    });
  }

  function removeBuffered(start, end) {
    return whenIdle().then(function () {
      if (!sourceBuffer || !sourceBuffer.buffered.length || end <= start) return;
      return new Promise(function (resolve) {
        sourceBuffer.addEventListener("updateend", resolve, { once: true });
        sourceBuffer.remove(start, end);
      });
    });
  }

  function download(segment, retried) {
    return fetch(segment.url, { credentials: "same-origin" }).then(function (r) {
      if (r.ok) return r.arrayBuffer();
      if (!retried && (r.status === 403 || r.status === 410 || r.status === 404)) {
        // The link expired under us: ask for the playlist again and use its new link.
        return fetchPlaylist(segment.start).then(function (playlist) {
          var again = playlist.segments.find(function (s) { return s.start === segment.start; });
          if (!again) throw new Error("the segment is no longer available");
          // The rest of the old playlist's links expired too; the next segment asks for it again.
          return download(again, true);
        });
      }
      throw new Error("the store answered " + r.status);
    });
  }

  function appendSegment(segment, generation) {
    return download(segment, false).then(function (buffer) {
      if (generation !== state.generation) return false;
      return append(new Uint8Array(buffer), (segment.start - origin) / 1000).then(function () {
        if (generation !== state.generation) return false;
        state.appendedEnd = segment.end;
        return true;
      });
    });
  }

  function nextSegment() {
    // The next segment to append with a link still good, asking for a playlist when needed; null when
    // there is nothing more yet.
    var playlist = state.playlist;
    if (playlist && state.next < playlist.segments.length && fresh(playlist)) {
      return Promise.resolve(playlist.segments[state.next]);
    }
    var since = state.appendedEnd;
    if (playlist && state.next >= playlist.segments.length) {
      // Past this playlist: go on from the next footage the timeline knows of, rather than asking for
      // every empty ten minutes of a long gap; past all of it, look for new footage now and then.
      var later = coverageFrom(Math.max(state.appendedEnd, Math.min(playlist.until, Date.now())));
      if (later !== null) since = later;
      else if (Date.now() < state.edgeUntil) return Promise.resolve(null);
    }
    return fetchPlaylist(since).then(function (fetched) {
      state.playlist = fetched;
      // A segment reaching over the asked start was appended already.
      state.next = fetched.segments.findIndex(function (s) { return s.start >= state.appendedEnd - 100; });
      if (state.next < 0) {
        state.next = fetched.segments.length;
        state.edgeUntil = Date.now() + EDGE_POLL_MS;
        return null;
      }
      return fetched.segments[state.next];
    });
  }

  function pump() {
    if (state.busy || state.appendedEnd === null) return;
    if (state.appendedEnd - wallNow() > AHEAD_MS) return;
    var generation = state.generation;
    state.busy = true;
    nextSegment().then(function (segment) {
      if (!segment || generation !== state.generation) return false;
      return appendSegment(segment, generation).then(function (appended) {
        if (appended) state.next += 1;
        return appended;
      });
    }).then(function () {
      var behind = video.currentTime - BEHIND_S;
      if (behind > 0 && sourceBuffer && sourceBuffer.buffered.length && sourceBuffer.buffered.start(0) < behind) {
        return removeBuffered(0, behind);
      }
    }).catch(function (error) {
      setStatus("Could not load the recording: " + error.message);
    }).then(function () {
      // A seek since then owns the flag now.
      if (generation === state.generation) state.busy = false;
    });
  }

  // ------------------------------------------------------------ seeking and playing

  function buffered(t) {
    var ranges = video.buffered;
    for (var i = 0; i < ranges.length; i++) {
      if (t >= ranges.start(i) && t < ranges.end(i) - 0.1) return true;
    }
    return false;
  }

  function seek(wallMs) {
    var t = (wallMs - origin) / 1000;
    if (buffered(t)) {
      video.currentTime = t;
      showClock(wallMs);
      return Promise.resolve();
    }
    var generation = ++state.generation;
    state.busy = true;
    setStatus("Loading " + format(wallMs) + "…");
    showClock(wallMs);
    var usable = state.playlist && fresh(state.playlist) && state.playlist.since <= wallMs && wallMs < state.playlist.until;
    var playlist = usable ? Promise.resolve(state.playlist) : fetchPlaylist(wallMs);
    return playlist.then(function (fetched) {
      if (generation !== state.generation) return;
      var index = fetched.segments.findIndex(function (s) { return s.end > wallMs; });
      if (index < 0) {
        var later = coverageFrom(wallMs);
        if (later !== null && later >= fetched.until) {
          state.busy = false;
          return seek(later);
        }
        state.busy = false;
        pause();
        setStatus("Nothing is recorded after " + format(wallMs) + " yet.");
        return;
      }
      var segment = fetched.segments[index];
      var target = Math.max(wallMs, segment.start);
      state.playlist = fetched;
      state.next = index;
      return removeBuffered(0, Infinity).then(function () {
        state.appendedEnd = null;
        return appendSegment(segment, generation);
      }).then(function (appended) {
        if (!appended) return;
        state.next = index + 1;
        video.currentTime = (target - origin) / 1000;
        showClock(target);
        setStatus(segment.start > wallMs ? "Nothing is recorded at " + format(wallMs) + "; showing " + format(target) + "." : "");
        if (state.wantPlay) startVideo();
      }).then(function () {
        if (generation === state.generation) state.busy = false;
        pump();
      });
    }).catch(function (error) {
      if (generation === state.generation) state.busy = false;
      setStatus("Could not load the recording: " + error.message);
    });
  }

  function startVideo() {
    video.play().catch(function () { /* a seek interrupted play(); the next tick plays on */ });
  }

  function play() {
    state.wantPlay = true;
    playButton.textContent = "Pause";
    if (state.appendedEnd === null) seek(Number(position.value));
    else startVideo();
  }

  function pause() {
    state.wantPlay = false;
    playButton.textContent = "Play";
    video.pause();
  }

  function tick() {
    if (state.appendedEnd === null) return;
    var t = video.currentTime;
    var ranges = video.buffered;
    // Stuck: outside the footage, at the end of a stretch of it, or the element says it cannot go on.
    var stalled = video.readyState < 3;
    var inside = false;
    for (var i = 0; i < ranges.length; i++) {
      if (t >= ranges.start(i) - 0.05 && t <= ranges.end(i)) {
        inside = true;
        if (ranges.end(i) - t < 0.3) stalled = true;
      }
    }
    if (!inside) stalled = true;
    if (stalled && state.wantPlay && !video.seeking) {
      var later = null;
      for (var j = 0; j < ranges.length && later === null; j++) {
        if (ranges.start(j) > t + 0.05) later = ranges.start(j);
      }
      if (later !== null) {
        // A gap in the recording: go on from where the footage starts again.
        setStatus("Nothing recorded from " + format(wallNow()) + " to " + format(origin + later * 1000) + "; skipped ahead.");
        video.currentTime = later + 0.001;
      } else if (state.playlist && state.next >= state.playlist.segments.length && !state.busy) {
        setStatus("End of the recording so far; waiting for more.");
      }
    }
    if (state.wantPlay && video.paused && !stalled) startVideo();
    showClock(wallNow());
    pump();
  }

  // ------------------------------------------------------------ controls

  playButton.addEventListener("click", function () { if (state.wantPlay) pause(); else play(); });
  speed.addEventListener("change", function () { video.playbackRate = Number(speed.value); });
  video.addEventListener("ratechange", function () { speed.value = String(video.playbackRate); });
  document.getElementById("playback-back").addEventListener("click", function () { seek(Math.max(config.windowStart, wallNow() - 10000)); });
  document.getElementById("playback-forward").addEventListener("click", function () { seek(wallNow() + 10000); });
  position.addEventListener("pointerdown", function () { state.scrubbing = true; });
  position.addEventListener("input", function () {
    clock.textContent = format(Number(position.value));
    position.setAttribute("aria-valuetext", format(Number(position.value)));
  });
  position.addEventListener("change", function () {
    state.scrubbing = false;
    seek(Number(position.value));
  });

  setInterval(function () {
    // The timeline runs up to now; footage recorded since the page opened appears as playlists find it.
    config.windowEnd = Math.max(config.windowEnd, Date.now());
    drawTimeline();
  }, 30000);
  setInterval(tick, 250);

  drawTimeline();
  var last = config.coverage[config.coverage.length - 1];
  var first = config.at !== null ? config.at : last ? Math.max(last[0], last[1] - 60000) : null;
  if (first === null) {
    showClock(config.windowEnd);
    setStatus("Nothing recorded in this period.");
  } else {
    seek(first);
  }
})();
