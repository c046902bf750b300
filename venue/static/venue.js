// The venue's live page: renders /api/venue states pushed by server-sent events.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const app = $("app");
  const LEVEL_TEXT = {
    ok: "Open: below the warning level",
    warn: "Nearly full: slow the entry",
    full: "Full: stop the entry",
  };
  let chart = null;
  let curve = { today: [], yesterday: [], day_start: 0 };
  let last = null;

  function cell(row, text) {
    const td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
  }

  function fillRows(tbody, rows) {
    tbody.replaceChildren(...rows.map((values) => {
      const tr = document.createElement("tr");
      values.forEach((v, i) => {
        if (i === 0) {
          const th = document.createElement("th");
          th.scope = "row";
          th.textContent = v;
          tr.appendChild(th);
        } else {
          cell(tr, v);
        }
      });
      return tr;
    }));
  }

  function localTime(iso) {
    if (!iso) return "never";
    return new Date(iso).toLocaleTimeString();
  }

  let shownTables = "";
  const sensorItems = new Map();

  function sensorItem(id) {
    let item = sensorItems.get(id);
    if (!item) {
      const li = document.createElement("li");
      li.dataset.sensor = id;
      const badge = document.createElement("span");
      badge.className = "badge";
      const name = document.createElement("strong");
      name.textContent = id;
      const when = document.createElement("span");
      when.className = "when";
      li.append(badge, name, when);
      $("sensors").appendChild(li);
      item = { li: li, badge: badge, when: when };
      sensorItems.set(id, item);
    }
    return item;
  }

  function setText(node, text) {
    if (node.textContent !== text) node.textContent = text;
  }

  // The number and its level first (cheap); tables only when their counts changed.
  function render(state) {
    last = state;
    setText($("occupancy"), String(state.occupancy));
    setText($("capacity"), String(state.capacity));
    setText($("raw"), String(state.raw_occupancy));
    setText($("adjust"), (state.adjust > 0 ? "+" : "") + state.adjust);
    setText($("day"), state.day);
    const now = $("now");
    if (now.dataset.level !== state.level) {
      now.className = "level-" + state.level;
      now.dataset.level = state.level;
      $("level-text").textContent = LEVEL_TEXT[state.level];
    }
    const entranceSensors = new Set(Object.values(state.entrances).map((e) => e.sensor));
    const doubtful = Object.entries(state.sensor_status)
      .filter(([id, s]) => entranceSensors.has(id) && (!s.online || s.stale))
      .map(([id, s]) => id + (s.online ? " silent" : " offline"));
    $("uncertain").hidden = !state.uncertain;
    setText($("uncertain-why"), doubtful.length ? doubtful.join(", ") : "waiting for sensors");
    const tables = JSON.stringify([state.entrances, state.areas]);
    if (tables !== shownTables) {
      shownTables = tables;
      fillRows($("entrances"), Object.entries(state.entrances).map(
        ([key, e]) => [key, String(e.in), String(e.out)]));
      const areas = Object.entries(state.areas);
      $("areas-section").hidden = areas.length === 0;
      fillRows($("areas"), areas.map(([name, a]) => [name, String(a.occupancy)]));
    }
    Object.entries(state.sensor_status).forEach(([id, s]) => {
      const item = sensorItem(id);
      const status = !s.online ? "offline" : (s.stale ? "stale" : "online");
      if (item.li.dataset.status !== status) {
        item.li.className = status;
        item.li.dataset.status = status;
        item.badge.textContent = status;
      }
      setText(item.when, " last message " + localTime(s.last_seen));
    });
    app.dataset.ts = state.ts;
    updateToday(state);
  }

  // Messages may come faster than a slow phone draws: render only the newest, once a frame.
  let pending = null;
  function receive(data) {
    const idle = pending === null;
    pending = data;
    if (idle) {
      requestAnimationFrame(() => {
        const data = pending;
        pending = null;
        render(JSON.parse(data));
      });
    }
  }

  // --- the curve -------------------------------------------------------------------
  function series() {
    const xs = new Set();
    curve.today.forEach((p) => xs.add(p[0]));
    curve.yesterday.forEach((p) => xs.add(p[0]));
    const x = Array.from(xs).sort((a, b) => a - b);
    const t = new Map(curve.today), y = new Map(curve.yesterday);
    return [x.map((s) => s / 3600), x.map((s) => t.has(s) ? t.get(s) : null),
            x.map((s) => y.has(s) ? y.get(s) : null)];
  }

  function draw() {
    drawn = Date.now();
    const box = $("curve");
    if (typeof uPlot === "undefined") return;
    const width = Math.max(280, box.clientWidth - 2);
    const data = series();
    const today = curve.today;
    app.dataset.drawn = today.length ? String(today[today.length - 1][1]) : "";
    if (chart === null) {
      chart = new uPlot({
        width: width, height: 220,
        scales: { x: { time: false } },
        axes: [{ label: "hours since the day's reset" }, { label: "people" }],
        series: [{ label: "hours" },
                 { label: "today", stroke: "#1b5fbf", width: 2, spanGaps: true },
                 { label: "yesterday", stroke: "#999", width: 1, dash: [4, 4], spanGaps: true }],
      }, data, box);
    } else {
      chart.setSize({ width: width, height: 220 });
      chart.setData(data);
    }
  }

  // Today's last point follows the figure; the chart is redrawn at most every 2 s.
  let drawn = 0;
  let trailing = null;
  function updateToday(state) {
    if (!curve.day_start) return;
    const minute = Math.floor(Date.parse(state.ts) / 60000) * 60 - curve.day_start;
    const points = curve.today;
    if (points.length && points[points.length - 1][0] === minute) {
      points[points.length - 1][1] = state.occupancy;
    } else if (minute >= 0) {
      points.push([minute, state.occupancy]);
    }
    if (Date.now() - drawn > 2000) {
      draw();
    } else if (!trailing) {
      trailing = setTimeout(() => { trailing = null; draw(); }, 2000);
    }
  }

  async function loadCurve() {
    try {
      const response = await fetch("/api/curve", { cache: "no-store" });
      if (response.ok) curve = await response.json();
    } catch (e) { /* the next refresh tries again */ }
    draw();
  }

  // --- live updates ----------------------------------------------------------------
  function connect() {
    const source = new EventSource("/api/events");
    const status = $("connection");
    source.onopen = () => { status.textContent = "live"; status.className = ""; };
    source.onmessage = (event) => receive(event.data);
    source.onerror = () => { status.textContent = "reconnecting to the venue server…"; status.className = "down"; };
  }

  // --- staff actions ---------------------------------------------------------------
  function basic(password) {
    const bytes = new TextEncoder().encode("staff:" + password);
    let text = "";
    bytes.forEach((b) => { text += String.fromCharCode(b); });
    return "Basic " + btoa(text);
  }

  async function act(path, body) {
    const out = $("staff-result");
    const password = $("password").value;
    if (!password) { out.textContent = "Enter the password first."; return; }
    try {
      const response = await fetch(path, {
        method: "POST",
        headers: { "Authorization": basic(password), "Content-Type": "application/json" },
        body: JSON.stringify(body || {}),
      });
      const answer = await response.json();
      if (response.ok) { out.textContent = "Done."; render(answer); }
      else { out.textContent = "Refused: " + answer.error; }
    } catch (e) { out.textContent = "The venue server did not answer."; }
  }

  $("plus").addEventListener("click", () => act("/api/adjust", { delta: 1 }));
  $("minus").addEventListener("click", () => act("/api/adjust", { delta: -1 }));
  $("reset").addEventListener("click", () => {
    if (window.confirm("Reset the occupancy to 0?")) act("/api/reset");
  });
  $("set-capacity").addEventListener("click", () => act("/api/capacity", {
    capacity: Number($("new-capacity").value), warn: Number($("new-warn").value),
  }));
  window.addEventListener("resize", draw);

  try { render(JSON.parse(app.dataset.state)); } catch (e) { /* wait for the stream */ }
  if (last) { $("new-capacity").value = last.capacity; $("new-warn").value = last.warn; }
  loadCurve();
  setInterval(loadCurve, 60000);
  connect();
})();
