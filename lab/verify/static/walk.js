// The walk page: taps go to /api/tap; totals come back from /api/state once a second.
"use strict";

const statusLine = document.getElementById("status");
const startButton = document.getElementById("start");
const undoButton = document.getElementById("undo");
const finishButton = document.getElementById("finish");
const tapButtons = Array.from(document.querySelectorAll("button.tap"));

function show(state) {
  for (const [line, ways] of Object.entries(state.taps)) {
    for (const [way, n] of Object.entries(ways)) {
      const cell = document.querySelector(`[data-taps="${CSS.escape(line)} ${way}"]`);
      if (cell) cell.textContent = String(n);
    }
  }
  for (const [line, ways] of Object.entries(state.counted)) {
    for (const [way, n] of Object.entries(ways)) {
      const cell = document.querySelector(`[data-counted="${CSS.escape(line)} ${way}"]`);
      if (cell) cell.textContent = String(n);
    }
  }
  const running = state.started && !state.finished;
  tapButtons.forEach((b) => { b.disabled = !running; });
  undoButton.disabled = !running;
  finishButton.disabled = !running;
  startButton.disabled = state.started || state.finished;  // a second Start would wipe the taps
  if (state.finished) statusLine.textContent = "Finished: the report is being written.";
  else if (state.started) statusLine.textContent = `Running for ${Math.round(state.elapsed_s)} s.`;
}

async function call(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const state = await response.json();
  if (!response.ok) { statusLine.textContent = state.error; return; }
  show(state);
}

startButton.addEventListener("click", () => call("/api/start", {}));
undoButton.addEventListener("click", () => call("/api/undo", {}));
finishButton.addEventListener("click", () => call("/api/finish", {}));
for (const button of tapButtons) {
  button.addEventListener("click", () =>
    call("/api/tap", { line: button.dataset.line, direction: button.dataset.direction }));
}
setInterval(() => { call("/api/state").catch(() => {}); }, 1000);
call("/api/state").catch(() => {});
tapButtons.forEach((b) => { b.disabled = true; });
