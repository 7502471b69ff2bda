"use strict";
// EmoteBot's control page: a button per expression, a box for trigger words, and the live status.
// Everything shown is set with textContent: words typed anywhere are never parsed as HTML.

const $ = (id) => document.getElementById(id);
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let actions = [];

async function post(path, body) {
  let response, data = {};
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    data = await response.json();
  } catch (err) {
    $("message").textContent = "EmoteBot is not running";
    return false;
  }
  $("message").textContent = response.ok ? `→ ${data.action}` : data.error || `HTTP ${response.status}`;
  return response.ok;
}

function build(names) {
  actions = names;
  const box = $("actions");
  names.forEach((name, i) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = name;
    button.textContent = name;
    button.title = name === "calibrate" ? "look at the camera with a relaxed face (key c)" : `key ${i + 1}`;
    button.addEventListener("click", () => post("/api/action", { action: name }));
    box.appendChild(button);
  });
}

const number = (v, digits) => (typeof v === "number" ? v.toFixed(digits) : "–");

function show(s) {
  if (!actions.length && Array.isArray(s.actions)) build(s.actions);
  $("fps").textContent = number(s.fps, 1);
  $("latency").textContent = typeof s.latency_ms === "number" ? `${s.latency_ms.toFixed(0)} ms` : "–";
  $("expression").textContent = s.expression || "–";
  const t = s.last_trigger;
  $("last_trigger").textContent = t ? `${t.word || t.expression} (${t.source})` : "–";
  const mic = typeof s.mic_level === "number";
  $("mic").value = mic ? s.mic_level : 0;
  $("mic_text").textContent = mic ? `${Math.round(100 * s.mic_level)} %` : "no microphone";
  for (const b of document.querySelectorAll("#actions button")) {
    b.classList.toggle("active", b.dataset.action === s.expression);
  }
}

async function poll() {
  for (;;) {
    try {
      const response = await fetch("/api/status", { cache: "no-store" });
      show(await response.json());
      document.body.classList.remove("offline");
    } catch (err) {
      document.body.classList.add("offline");
    }
    await pause(300);
  }
}

$("typed").addEventListener("submit", async (event) => {
  event.preventDefault();
  const word = $("word").value;
  if (word.trim() && (await post("/api/trigger", { word }))) $("word").value = "";
});

document.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement || event.ctrlKey || event.metaKey || event.altKey) return;
  const i = Number(event.key) - 1;
  const name = event.key.toLowerCase() === "c" ? "calibrate" : actions.filter((a) => a !== "calibrate")[i];
  if (name) post("/api/action", { action: name });
});

poll();
