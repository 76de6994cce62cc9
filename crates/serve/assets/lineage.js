// The lineage graph: nodes laid out in columns by depth (computed when the site is generated),
// edges as curves. Click highlights a node's ancestors and descendants; double-click opens it;
// drag pans and the wheel zooms; the search box marks matching nodes.
(function () {
  "use strict";
  const W = 190, H = 26, GX = 250, GY = 34, PAD = 20;
  const nodes = JSON.parse(document.getElementById("graph").textContent || "[]");
  const host = document.getElementById("lineage");
  const NS = "http://www.w3.org/2000/svg";
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const children = new Map(nodes.map((n) => [n.id, []]));
  for (const n of nodes) for (const p of n.parents) if (children.has(p)) children.get(p).push(n.id);

  const svg = document.createElementNS(NS, "svg");
  const view = document.createElementNS(NS, "g");
  svg.appendChild(view);
  host.appendChild(svg);
  const pos = (n) => ({ x: PAD + n.x * GX, y: PAD + n.y * GY });
  const edges = [];
  for (const n of nodes) {
    for (const p of n.parents) {
      const from = byId.get(p);
      if (!from) continue;
      const a = pos(from), b = pos(n);
      const path = document.createElementNS(NS, "path");
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2, mx = (x1 + x2) / 2;
      path.setAttribute("d", `M${x1},${y1} C${mx},${y1} ${mx},${y2} ${x2},${y2}`);
      path.setAttribute("class", "edge");
      path.dataset.from = p;
      path.dataset.to = n.id;
      view.appendChild(path);
      edges.push(path);
    }
  }
  const shapes = new Map();
  for (const n of nodes) {
    const g = document.createElementNS(NS, "g");
    const p = pos(n);
    g.setAttribute("class", "node " + n.kind);
    g.setAttribute("transform", `translate(${p.x},${p.y})`);
    g.dataset.id = n.id;
    const rect = document.createElementNS(NS, "rect");
    rect.setAttribute("width", W);
    rect.setAttribute("height", H);
    const text = document.createElementNS(NS, "text");
    text.setAttribute("x", 8);
    text.setAttribute("y", 17);
    text.textContent = n.name.length > 30 ? n.name.slice(0, 29) + "…" : n.name;
    const title = document.createElementNS(NS, "title");
    title.textContent = n.kind + " " + n.id;
    g.append(rect, text, title);
    g.addEventListener("click", (e) => { e.stopPropagation(); focus(n.id); });
    g.addEventListener("dblclick", () => { window.location.href = n.file; });
    view.appendChild(g);
    shapes.set(n.id, g);
  }
  host.dataset.nodes = String(nodes.length);
  host.dataset.edges = String(edges.length);

  function walk(start, next) {
    const seen = new Set([start]);
    const stack = [start];
    while (stack.length) {
      const id = stack.pop();
      for (const m of next(id)) if (!seen.has(m)) { seen.add(m); stack.push(m); }
    }
    return seen;
  }
  function focus(id) {
    const up = walk(id, (x) => (byId.get(x) || { parents: [] }).parents);
    const down = walk(id, (x) => children.get(x) || []);
    const lit = new Set([...up, ...down]);
    host.classList.add("focused");
    for (const [nid, g] of shapes) {
      g.classList.toggle("lit", lit.has(nid));
      g.classList.toggle("selected", nid === id);
    }
    for (const e of edges) {
      const on = (up.has(e.dataset.to) && up.has(e.dataset.from)) || (down.has(e.dataset.from) && down.has(e.dataset.to));
      e.classList.toggle("lit", on);
    }
    host.dataset.focused = id;
    host.dataset.lit = String(lit.size);
  }
  function reset() {
    host.classList.remove("focused");
    for (const g of shapes.values()) g.classList.remove("lit", "selected", "match");
    for (const e of edges) e.classList.remove("lit");
    delete host.dataset.focused;
  }
  document.getElementById("reset").addEventListener("click", reset);
  svg.addEventListener("click", reset);
  document.getElementById("search").addEventListener("input", (e) => {
    const q = e.target.value.trim().toLowerCase();
    for (const [id, g] of shapes) g.classList.toggle("match", q.length > 1 && id.toLowerCase().includes(q));
  });

  let scale = 1, tx = 0, ty = 0, drag = null;
  const apply = () => view.setAttribute("transform", `translate(${tx},${ty}) scale(${scale})`);
  svg.addEventListener("wheel", (e) => {
    e.preventDefault();
    const k = e.deltaY < 0 ? 1.1 : 1 / 1.1;
    const r = svg.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    tx = mx - (mx - tx) * k; ty = my - (my - ty) * k; scale *= k;
    apply();
  }, { passive: false });
  svg.addEventListener("mousedown", (e) => { drag = { x: e.clientX - tx, y: e.clientY - ty }; });
  window.addEventListener("mousemove", (e) => { if (drag) { tx = e.clientX - drag.x; ty = e.clientY - drag.y; apply(); } });
  window.addEventListener("mouseup", () => { drag = null; });
  // Fit the whole graph on first view.
  const maxX = Math.max(0, ...nodes.map((n) => n.x)), maxY = Math.max(0, ...nodes.map((n) => n.y));
  const width = PAD * 2 + maxX * GX + W, height = PAD * 2 + maxY * GY + H;
  const box = host.getBoundingClientRect();
  scale = Math.min(1, (box.width || 1000) / width, (box.height || 560) / height);
  apply();
})();
