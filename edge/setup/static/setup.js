"use strict";
// The setup page: draw door lines (two points and an "in" arrow) and zones (polygons)
// over the people-free background; preview their counts; save them into the config.
// Coordinates are normalized (0..1), as in the config file.
(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const canvas = document.getElementById("scene");
  const ctx = canvas.getContext("2d");
  const message = document.getElementById("message");
  const INSIDE_OFFSET = 0.05; // distance of a line's "inside" point from its middle
  const GRAB = 12; // pixels (canvas units) within which a point is grabbed
  const state = {
    tool: "line",
    lines: [], // {name, a: [x, y], b: [x, y], dir: 1 | -1, kept: the file's "inside" until edited}
    zones: [], // {name, polygon: [[x, y], ...]}
    draft: null, // the shape being drawn
    drag: null, // {shape, index} of a point being moved
    image: null,
    version: 0,
    view: { dots: [], lines: {}, zones: {} },
  };

  const api = (path, options = {}) =>
    fetch(path, { ...options, headers: { ...(options.headers || {}), "X-Setup-Token": token } });

  // --- geometry ----------------------------------------------------------------
  const clamp = (v) => Math.min(1, Math.max(0, v));
  const round = (v) => Math.round(v * 10000) / 10000;
  function inside(line) {
    if (line.kept) return line.kept;
    const dx = line.b[0] - line.a[0], dy = line.b[1] - line.a[1];
    const length = Math.hypot(dx, dy);
    const [nx, ny] = length > 0 ? [-dy / length, dx / length] : [0, 1];
    const mx = (line.a[0] + line.b[0]) / 2, my = (line.a[1] + line.b[1]) / 2;
    return [round(clamp(mx + line.dir * INSIDE_OFFSET * nx)), round(clamp(my + line.dir * INSIDE_OFFSET * ny))];
  }
  function fromConfig(line) {
    const [a, b] = line.points;
    const cross = (b[0] - a[0]) * (line.inside[1] - a[1]) - (b[1] - a[1]) * (line.inside[0] - a[0]);
    return { name: line.name, a: a.slice(), b: b.slice(), dir: cross >= 0 ? 1 : -1, kept: line.inside };
  }
  const toPx = ([x, y]) => [x * canvas.width, y * canvas.height];
  function pointer(event) {
    const box = canvas.getBoundingClientRect();
    return [round(clamp((event.clientX - box.left) / box.width)), round(clamp((event.clientY - box.top) / box.height))];
  }
  function near(p, q) {
    const [px, py] = toPx(p), [qx, qy] = toPx(q);
    return Math.hypot(px - qx, py - qy) <= GRAB;
  }
  function drawing() {
    return {
      lines: state.lines.map((l) => ({ name: l.name, points: [l.a, l.b], inside: inside(l) })),
      zones: state.zones.map((z) => ({ name: z.name, polygon: z.polygon })),
    };
  }

  // --- painting ----------------------------------------------------------------
  function paint() {
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    if (state.image) ctx.drawImage(state.image, 0, 0, canvas.width, canvas.height);
    state.zones.forEach((zone) => {
      paintZone(zone.polygon, true);
      paintZoneName(zone);
    });
    if (state.draft && state.draft.polygon) paintZone(state.draft.polygon, false);
    state.lines.forEach(paintLine);
    if (state.draft && state.draft.a) paintLine(state.draft);
    ctx.fillStyle = "#ffe600";
    ctx.strokeStyle = "#000";
    for (const dot of state.view.dots) {
      const [x, y] = toPx(dot);
      ctx.beginPath();
      ctx.arc(x, y, 5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.stroke();
    }
  }
  function handle([x, y]) {
    ctx.fillStyle = "#fff";
    ctx.strokeStyle = "#000";
    ctx.fillRect(x - 4, y - 4, 8, 8);
    ctx.strokeRect(x - 4, y - 4, 8, 8);
  }
  function paintZone(polygon, closed) {
    if (!polygon.length) return;
    ctx.beginPath();
    polygon.map(toPx).forEach(([x, y], i) => (i ? ctx.lineTo(x, y) : ctx.moveTo(x, y)));
    if (closed) ctx.closePath();
    ctx.fillStyle = "rgba(0, 140, 255, 0.18)";
    ctx.strokeStyle = "#0a84ff";
    ctx.lineWidth = 2;
    if (closed) ctx.fill();
    ctx.stroke();
    polygon.map(toPx).forEach(handle);
  }
  function paintZoneName(zone) {
    if (!zone.polygon.length) return;
    const n = zone.polygon.length;
    const middle = [0, 1].map((k) => zone.polygon.reduce((sum, p) => sum + p[k], 0) / n);
    const [x, y] = toPx(middle);
    ctx.fillStyle = "#fff";
    ctx.font = "bold 13px system-ui, sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(zone.name || "", x, y);
    ctx.textAlign = "start";
  }
  function paintLine(line) {
    const [ax, ay] = toPx(line.a), [bx, by] = toPx(line.b);
    ctx.strokeStyle = "#ff3b30";
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(ax, ay);
    ctx.lineTo(bx, by);
    ctx.stroke();
    const [mx, my] = [(ax + bx) / 2, (ay + by) / 2];
    const [ix, iy] = toPx(inside(line));
    const angle = Math.atan2(iy - my, ix - mx);
    const [tx, ty] = [mx + 28 * Math.cos(angle), my + 28 * Math.sin(angle)];
    ctx.beginPath();
    ctx.moveTo(mx, my);
    ctx.lineTo(tx, ty);
    ctx.lineTo(tx - 9 * Math.cos(angle - 0.5), ty - 9 * Math.sin(angle - 0.5));
    ctx.moveTo(tx, ty);
    ctx.lineTo(tx - 9 * Math.cos(angle + 0.5), ty - 9 * Math.sin(angle + 0.5));
    ctx.stroke();
    ctx.fillStyle = "#ff3b30";
    ctx.font = "bold 13px system-ui, sans-serif";
    ctx.fillText("in", tx + 4, ty + 4);
    ctx.fillStyle = "#fff";
    ctx.fillText(line.name || "", ax + 6, ay - 6);
    handle([ax, ay]);
    handle([bx, by]);
  }

  // --- the lists beside the scene -------------------------------------------------
  function listItem(shape, kind, index) {
    const item = document.createElement("li");
    item.dataset.kind = kind;
    item.dataset.index = String(index);
    const name = document.createElement("input");
    name.className = "name";
    name.value = shape.name;
    name.setAttribute("aria-label", `${kind} name`);
    name.addEventListener("change", () => {
      shape.name = name.value.trim();
      changed();
    });
    item.append(name);
    if (kind === "line") {
      const flip = document.createElement("button");
      flip.type = "button";
      flip.className = "flip";
      flip.textContent = "Flip in/out";
      flip.addEventListener("click", () => {
        shape.dir = -shape.dir;
        shape.kept = null;
        changed();
      });
      item.append(flip);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "delete";
    remove.textContent = "Delete";
    remove.addEventListener("click", () => {
      (kind === "line" ? state.lines : state.zones).splice(index, 1);
      changed();
    });
    item.append(remove);
    const count = document.createElement("span");
    count.className = "count";
    item.append(count);
    return item;
  }
  function renderLists() {
    document.getElementById("lines").replaceChildren(...state.lines.map((l, i) => listItem(l, "line", i)));
    document.getElementById("zones").replaceChildren(...state.zones.map((z, i) => listItem(z, "zone", i)));
    renderCounts();
  }
  function renderCounts() {
    document.querySelectorAll("#lines li").forEach((item) => {
      const c = state.view.lines[state.lines[item.dataset.index].name];
      item.querySelector(".count").textContent = c ? `in ${c.in} · out ${c.out}` : "";
    });
    document.querySelectorAll("#zones li").forEach((item) => {
      const c = state.view.zones[state.zones[item.dataset.index].name];
      item.querySelector(".count").textContent = c ? `${c.occupancy} inside` : "";
    });
  }
  function say(text, kind) {
    message.textContent = text;
    message.className = kind;
  }

  // --- talking to the sensor ---------------------------------------------------
  let previewTimer = null;
  function changed() {
    renderLists();
    paint();
    clearTimeout(previewTimer);
    previewTimer = setTimeout(preview, 300);
  }
  async function preview() {
    const response = await api("/api/preview", { method: "POST", body: JSON.stringify(drawing()) });
    const body = await response.json();
    if (body.error) say(body.error, "error");
    else if (message.className === "error") say("", "");
  }
  let saves = 0;
  async function save() {
    clearTimeout(previewTimer);
    const response = await api("/api/save", { method: "POST", body: JSON.stringify(drawing()) });
    const body = await response.json();
    say(body.error || body.message, body.error ? "error" : "ok");
    message.dataset.saves = String(++saves);
  }
  async function load() {
    const response = await api("/api/drawing");
    const body = await response.json();
    if (body.error) {
      say(body.error, "error");
      return;
    }
    state.lines = body.lines.map(fromConfig);
    state.zones = body.zones.map((z) => ({ name: z.name, polygon: z.polygon.map((p) => p.slice()) }));
    renderLists();
    paint();
  }
  async function poll() {
    try {
      const response = await api("/api/state");
      const view = await response.json();
      state.view = view;
      canvas.dataset.dots = String(view.dots.length);
      document.getElementById("timer").textContent =
        `${view.fps} frames/s · setup stops in ${Math.ceil(view.seconds_left / 60)} min`;
      const bg = view.background;
      if (bg && bg.version !== state.version) {
        const image = await api("/api/background.png");
        if (image.status === 200) {
          state.image = await createImageBitmap(await image.blob());
          if (canvas.width !== state.image.width || canvas.height !== state.image.height) {
            canvas.width = state.image.width; // the detector's aspect ratio
            canvas.height = state.image.height;
          }
          state.version = bg.version;
          document.getElementById("note").textContent =
            `Background: median of ${bg.frames} frames; ${bg.blanked_regions} region(s) blanked ` +
            `where the detector still saw a person; ${Math.round(bg.unseen_share * 100)} % never seen free.`;
          canvas.dataset.version = String(bg.version);
        }
      }
      renderCounts();
      paint();
    } catch (error) {
      document.getElementById("timer").textContent = "setup has stopped";
      return;
    }
    setTimeout(poll, 500);
  }

  // --- the mouse ---------------------------------------------------------------
  const HINTS = {
    line: "Press where the door line starts, drag to where it ends, release. The arrow points to 'in'.",
    zone: "Click each corner of the zone; click the first corner again to close it (Esc cancels).",
    edit: "Drag any corner or line end to move it.",
  };
  function choose(tool) {
    state.tool = tool;
    state.draft = null;
    document.querySelectorAll("[data-tool]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.tool === tool)));
    document.getElementById("hint").textContent = HINTS[tool];
    paint();
  }
  function grab(p) {
    for (const line of state.lines) {
      if (near(line.a, p)) return { point: line.a, shape: line };
      if (near(line.b, p)) return { point: line.b, shape: line };
    }
    for (const zone of state.zones) {
      const point = zone.polygon.find((q) => near(q, p));
      if (point) return { point, shape: zone };
    }
    return null;
  }
  canvas.addEventListener("mousedown", (event) => {
    const p = pointer(event);
    if (state.tool === "edit") {
      state.drag = grab(p);
    } else if (state.tool === "line") {
      state.draft = { name: `line-${state.lines.length + 1}`, a: p, b: p.slice(), dir: 1 };
    }
    paint();
  });
  canvas.addEventListener("mousemove", (event) => {
    const p = pointer(event);
    if (state.drag) {
      state.drag.point[0] = p[0];
      state.drag.point[1] = p[1];
      state.drag.shape.kept = null;
      paint();
    } else if (state.draft && state.draft.a) {
      state.draft.b = p;
      paint();
    }
  });
  canvas.addEventListener("mouseup", (event) => {
    const p = pointer(event);
    if (state.drag) {
      state.drag = null;
      changed();
    } else if (state.tool === "line" && state.draft) {
      state.draft.b = p;
      state.lines.push(state.draft);
      state.draft = null;
      changed();
    }
  });
  canvas.addEventListener("click", (event) => {
    if (state.tool !== "zone") return;
    const p = pointer(event);
    if (!state.draft) state.draft = { name: `zone-${state.zones.length + 1}`, polygon: [] };
    const polygon = state.draft.polygon;
    if (polygon.length >= 3 && near(polygon[0], p)) {
      state.zones.push(state.draft);
      state.draft = null;
      changed();
      return;
    }
    polygon.push(p);
    paint();
  });
  document.querySelectorAll("[data-tool]").forEach((b) => b.addEventListener("click", () => choose(b.dataset.tool)));
  document.getElementById("save").addEventListener("click", save);
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    state.draft = null; // drop the line or zone being drawn
    state.drag = null;
    paint();
  });

  choose("line");
  load().then(poll);
})();
