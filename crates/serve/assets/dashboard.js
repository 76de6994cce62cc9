// Draws the page's charts from the data rendered into it, formats the numbers, and redraws
// everything when the warehouse snapshot changes (a build or an ingest committed).
(function () {
  "use strict";
  const palette = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04", "#4f46e5", "#db2777", "#65a30d"];
  const charts = {};
  const page = document.body.dataset.page;

  function format(value, unit) {
    if (value === null || value === undefined || value === "") return "—";
    const n = Number(value);
    if (!Number.isFinite(n)) return String(value);
    switch (unit) {
      case "money": return n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
      case "percent": return n.toFixed(1) + "%";
      case "hours": return n.toFixed(1) + " h";
      case "count": return Math.round(n).toLocaleString("en-US");
      default: return n.toLocaleString("en-US", { maximumFractionDigits: 2 });
    }
  }

  function drawKpi(panel) {
    const el = document.getElementById("kpi-" + panel.id);
    if (!el) return;
    el.dataset.value = panel.value === null || panel.value === undefined ? "" : panel.value;
    el.querySelector(".value").textContent = panel.error ? "—" : format(panel.value, panel.unit);
  }

  function drawChart(panel) {
    const canvas = document.getElementById("chart-" + panel.id);
    if (!canvas || typeof Chart === "undefined") return;
    const kind = panel.kind === "hbar" ? "bar" : panel.kind;
    const series = panel.series || [];
    const datasets = series.map((s, i) => {
      const color = palette[i % palette.length];
      const data = s.data.map((v) => (v === null ? null : Number(v)));
      if (kind === "doughnut") {
        return { label: s.name, data, backgroundColor: data.map((_, j) => palette[j % palette.length]) };
      }
      return { label: s.name, data, borderColor: color, backgroundColor: kind === "line" ? color : color + "cc", tension: 0.2, pointRadius: data.length > 60 ? 0 : 2, spanGaps: true };
    });
    const points = datasets.reduce((n, d) => n + d.data.filter((v) => v !== null).length, 0);
    canvas.dataset.points = String(points);
    const options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      indexAxis: panel.kind === "hbar" ? "y" : "x",
      plugins: {
        legend: { display: datasets.length > 1 || kind === "doughnut", position: "bottom" },
        tooltip: { callbacks: { label: (c) => (c.dataset.label ? c.dataset.label + ": " : "") + format(c.parsed && typeof c.parsed === "object" ? (panel.kind === "hbar" ? c.parsed.x : c.parsed.y) : c.parsed, panel.unit) } },
      },
    };
    if (kind !== "doughnut") {
      const valueAxis = { ticks: { callback: (v) => format(v, panel.unit) }, beginAtZero: true };
      options.scales = panel.kind === "hbar" ? { x: valueAxis } : { y: valueAxis };
    }
    if (charts[panel.id]) charts[panel.id].destroy();
    charts[panel.id] = new Chart(canvas, { type: kind, data: { labels: panel.labels || [], datasets }, options });
  }

  function drawTable(panel) {
    const table = document.getElementById("table-" + panel.id);
    if (!table) return;
    const moneyLike = /amount|revenue|clv|aov|balance|limit|over_90|value/;
    const head = "<tr>" + (panel.columns || []).map((c) => "<th>" + escapeHtml(c) + "</th>").join("") + "</tr>";
    const body = (panel.rows || []).map((row) => "<tr>" + row.map((v, i) => {
      const col = panel.columns[i] || "";
      const shown = typeof v === "number" ? format(v, moneyLike.test(col) ? "money" : "number") : (v === null ? "" : String(v));
      return "<td" + (typeof v === "number" ? " class=\"num\"" : "") + ">" + escapeHtml(shown) + "</td>";
    }).join("") + "</tr>").join("");
    table.querySelector("thead").innerHTML = head;
    table.querySelector("tbody").innerHTML = body;
  }

  function escapeHtml(s) {
    return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;" }[c]));
  }

  function draw(data) {
    for (const panel of data.panels || []) {
      if (panel.kind === "kpi") drawKpi(panel);
      else if (panel.kind === "table") drawTable(panel);
      else drawChart(panel);
    }
    document.body.dataset.version = String(data.version);
    const live = document.getElementById("live");
    if (live) live.textContent = "snapshot " + data.version;
    document.body.dataset.drawn = "true";
  }

  async function poll() {
    try {
      const v = await (await fetch("/api/version", { cache: "no-store" })).json();
      if (String(v.version) !== document.body.dataset.version) {
        const query = window.location.search || "";
        const data = await (await fetch("/api/dashboard/" + page + query, { cache: "no-store" })).json();
        if (data.panels) draw(data);
      }
    } catch (e) {
      // The server may be restarting: try again on the next tick.
    }
  }

  const initial = JSON.parse(document.getElementById("page-data").textContent || "{}");
  draw(initial);
  setInterval(poll, 5000);
})();
