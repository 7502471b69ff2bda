"use strict";
// EmoteBot's browser source: fetch the newest frame (a PNG with alpha of its visible part), draw it, repeat.
// Each page asks for the next frame only when it has drawn the last one, so a slow page skips frames instead
// of queueing them, and the server never waits for it.

const canvas = document.getElementById("emotebot");
const ctx = canvas.getContext("2d");
// Read by tests and benchmarks (and handy in the browser console).
const stats = (window.emotebot = { frames: 0, seq: 0, ageMs: 0, latencyMs: 0, errors: 0 });

const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
// This page's name for the viewer count: the browser may fetch over several connections, one page is one viewer.
const viewer = Math.random().toString(36).slice(2, 12);

async function next() {
  const response = await fetch(`/frame?after=${stats.seq}&viewer=${viewer}`, { cache: "no-store" });
  if (response.status === 204) return; // no new frame within a second (paused or ended): ask again
  if (!response.ok) throw new Error(`frame: HTTP ${response.status}`);
  const tHeaders = performance.now();
  const [x, y, w, h, width, height] = response.headers.get("X-Frame-Box").split(",").map(Number);
  const blob = await response.blob();
  const bitmap = w > 0 && h > 0 ? await createImageBitmap(blob) : null;
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  ctx.clearRect(0, 0, width, height);
  if (bitmap) {
    ctx.drawImage(bitmap, x, y);
    bitmap.close();
  }
  stats.seq = Number(response.headers.get("X-Frame"));
  stats.frames += 1;
  stats.ageMs = Number(response.headers.get("X-Frame-Age-Ms")); // capture → sent by EmoteBot
  stats.latencyMs = stats.ageMs + (performance.now() - tHeaders); // capture → drawn on this canvas
}

async function loop() {
  for (;;) {
    try {
      await next();
    } catch (err) {
      stats.errors += 1; // EmoteBot stopped or restarting: keep trying, gently
      await pause(500);
    }
  }
}

loop();
