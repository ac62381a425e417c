// Marsad console: the trends chart (Chart.js, vendored) drawn from /api/trends. Pages work without it.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const canvas = document.getElementById("trend");
  if (!canvas || typeof Chart === "undefined") return;
  fetch(canvas.dataset.src, { credentials: "same-origin" })
    .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
    .then((data) => {
      const labels = data.days.map((d) => new Date(d * 86400000).toISOString().slice(0, 10));
      const palette = ["#0b6bcb", "#d92d20", "#079455", "#dc6803", "#7a5af8", "#0e9384", "#c11574", "#475467"];
      new Chart(canvas, {
        type: "line",
        data: { labels, datasets: data.series.map((s, i) => ({
          label: s.name, data: s.counts, borderColor: palette[i % palette.length],
          backgroundColor: palette[i % palette.length], tension: 0.25, pointRadius: 2 })) },
        options: { maintainAspectRatio: false, animation: false, interaction: { mode: "index", intersect: false },
                   scales: { y: { beginAtZero: true, title: { display: true, text: "stories per day" } } } },
      });
      // The same figures as a table (textContent only: names come from the data).
      const table = document.getElementById("trend-table");
      if (!table) return;
      const head = table.createTHead().insertRow();
      ["", ...labels.map((l) => l.slice(5)), "total"].forEach((t) => { const th = document.createElement("th"); th.textContent = t; head.appendChild(th); });
      const body = table.createTBody();
      data.series.forEach((s) => {
        const row = body.insertRow();
        const name = row.insertCell(); name.textContent = s.name; name.dir = "auto";
        s.counts.forEach((c) => { row.insertCell().textContent = c || ""; });
        row.insertCell().textContent = s.total;
      });
      canvas.dataset.ready = "1";
    })
    .catch(() => { canvas.replaceWith(Object.assign(document.createElement("p"), { textContent: "No trend data." })); });
});
