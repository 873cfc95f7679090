// The tasks table refreshes itself: it polls its JSON feed (same origin, the session cookie)
// while the page is visible, and rebuilds the rows with DOM nodes, never HTML strings.

const table = document.querySelector("table[data-feed]");

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function row(task) {
  const tr = document.createElement("tr");
  const idCell = document.createElement("td");
  idCell.className = "id";
  const link = document.createElement("a");
  link.href = task.url;
  link.textContent = task.id;
  idCell.append(link);
  const statusCell = document.createElement("td");
  const badge = document.createElement("span");
  badge.className = `status status-${task.status.toLowerCase()}`;
  badge.textContent = task.status;
  statusCell.append(badge);
  tr.append(
    idCell,
    cell(task.type),
    cell(task.priority),
    statusCell,
    cell(String(task.attempts), "num"),
    cell(task.created_at, "time"),
    cell(task.finished_at, "time"),
  );
  return tr;
}

async function refresh(state) {
  if (document.hidden) return;
  try {
    const response = await fetch(table.dataset.feed, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      window.location.reload(); // the session ended: the page sends the visitor to sign in
      return;
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const feed = await response.json();
    table.tBodies[0].replaceChildren(...feed.items.map(row));
    document.getElementById("tasks-empty").hidden = feed.items.length > 0;
    state.textContent = `live · ${new Date().toLocaleTimeString()}`;
    state.classList.remove("stale");
  } catch (error) {
    state.textContent = `not refreshed: ${error.message}`;
    state.classList.add("stale");
  }
}

if (table) {
  const state = document.getElementById("live-state");
  const seconds = Number(table.dataset.refreshSeconds) || 3;
  window.setInterval(() => refresh(state), seconds * 1000);
  document.addEventListener("visibilitychange", () => refresh(state));
}
