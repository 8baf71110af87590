// The inbox: choosing tickets (checkboxes, shift-click for a range, every ticket matching), the
// bulk bar, resizable columns remembered per agent, and saving the current filters as a view.
// The list itself is refreshed by htmx (filters) and by chat/agent.js (live changes): the choice
// is kept across those refreshes.
(function () {
  "use strict";
  const root = document.getElementById("inbox");
  if (!root) return;
  const bar = document.getElementById("bulk-form");
  const picked = new Map();  // ticket number -> "number:version" (the version the agent saw)
  let allMatching = false;
  let lastBox = null;

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("#inbox-results input[name=pick]"));
  }
  function numberOf(box) { return box.value.split(":")[0]; }

  function paint() {
    const list = boxes();
    list.forEach(function (box) {
      const on = allMatching || picked.has(numberOf(box));
      if (on && !allMatching) picked.set(numberOf(box), box.value);  // the version now shown
      box.checked = on;
      box.closest("tr").classList.toggle("picked", on);
    });
    const pageBox = document.getElementById("pick-page");
    if (pageBox) pageBox.checked = list.length > 0 && list.every(function (box) { return box.checked; });
    const results = document.getElementById("inbox-results");
    const more = results && results.dataset.more === "yes";
    const count = allMatching ? (results ? results.dataset.matching : "") : String(picked.size);
    bar.hidden = !allMatching && picked.size === 0;
    bar.querySelector(".picked").textContent = allMatching
      ? count + " — " + bar.dataset.all
      : count + " " + bar.dataset.selected;
    const everyOne = document.getElementById("pick-all-matching");
    everyOne.hidden = allMatching || !more || !(pageBox?.checked);
  }

  function choose(box, on) {
    if (on) picked.set(numberOf(box), box.value); else picked.delete(numberOf(box));
  }

  document.addEventListener("click", function (event) {
    const box = event.target.closest ? event.target.closest("#inbox-results input[name=pick]") : null;
    if (!box) return;
    if (allMatching) { allMatching = false; picked.clear(); box.checked = true; }
    const list = boxes();
    if (event.shiftKey && lastBox && list.indexOf(lastBox) >= 0) {
      const from = list.indexOf(lastBox), to = list.indexOf(box);
      list.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (each) { choose(each, box.checked); });
    } else {
      choose(box, box.checked);
    }
    lastBox = box;
    paint();
  });

  document.addEventListener("change", function (event) {
    if (event.target.id !== "pick-page") return;
    allMatching = false;
    boxes().forEach(function (box) { choose(box, event.target.checked); });
    paint();
  });

  document.getElementById("pick-all-matching").addEventListener("click", function () {
    allMatching = true;
    paint();
  });
  document.getElementById("pick-none").addEventListener("click", function () {
    allMatching = false;
    picked.clear();
    paint();
  });

  function refresh() {
    if (window.htmx) {
      htmx.ajax("GET", location.href, { target: "#inbox-results", select: "#inbox-results", swap: "outerHTML" });
    } else {
      location.reload();
    }
  }

  // Bulk actions: posted in the background; the answer (who was updated, who refused and why)
  // shows above the list, which then reloads.
  let action = null;
  bar.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-action]");
    if (button) action = button.dataset.action;
  });
  bar.addEventListener("submit", function (event) {
    event.preventDefault();
    const chosen = action || "update";
    if (chosen === "delete" && !window.confirm(bar.dataset.confirmDelete)) return;
    bar.elements.action.value = chosen;
    bar.elements.tickets.value = allMatching ? "" : Array.from(picked.values()).join(",");
    bar.elements.match.value = allMatching ? location.search.replace(/^\?/, "") : "";
    const data = new FormData(bar);
    const buttons = bar.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(bar.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        return response.text().then(function (html) { return { ok: response.ok, html: html }; });
      })
      .then(function (answer) {
        const box = document.getElementById("bulk-result");
        if (answer.ok) {
          box.innerHTML = answer.html;
          picked.clear();
          allMatching = false;
          bar.reset();
          refresh();
        } else {
          const doc = new DOMParser().parseFromString(answer.html, "text/html");
          const message = doc.querySelector("main") || doc.body;
          box.innerHTML = "";
          const notice = document.createElement("div");
          notice.className = "notice error";
          notice.setAttribute("role", "alert");
          notice.textContent = message.textContent.trim();
          box.appendChild(notice);
        }
      })
      .finally(function () {
        buttons.forEach(function (b) { b.disabled = false; });
        action = null;
        paint();
      });
  });

  // Saving a view: the filters are those in the address bar now (htmx keeps it current).
  const saveForm = document.getElementById("save-view-form");
  if (saveForm) {
    saveForm.addEventListener("submit", function () {
      const params = new URLSearchParams(location.search);
      params.delete("cursor");
      params.delete("saved");
      saveForm.elements.params.value = params.toString();
    });
  }
  document.addEventListener("submit", function (event) {
    const form = event.target.closest(".delete-view");
    if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
  });

  // Resizable columns: drag a header's right edge; widths are kept per agent in localStorage.
  const storeKey = "sportello-inbox-columns:" + root.dataset.agent;
  function widths() {
    try { return JSON.parse(localStorage.getItem(storeKey) || "{}"); } catch (_e) { return {}; }
  }
  function fitColumns() {
    const saved = widths();
    document.querySelectorAll("#inbox-results table.tickets th[data-col]").forEach(function (th) {
      const col = th.dataset.col;
      if (saved[col]) th.style.width = saved[col] + "px";
      if (col === "pick" || th.querySelector(".col-resizer")) return;
      const grip = document.createElement("span");
      grip.className = "col-resizer";
      grip.setAttribute("aria-hidden", "true");
      grip.addEventListener("mousedown", function (down) {
        down.preventDefault();
        const startX = down.clientX, startWidth = th.getBoundingClientRect().width;
        grip.classList.add("dragging");
        function move(e) { th.style.width = Math.max(40, startWidth + e.clientX - startX) + "px"; }
        function up() {
          document.removeEventListener("mousemove", move);
          document.removeEventListener("mouseup", up);
          grip.classList.remove("dragging");
          const now = widths();
          now[col] = Math.round(th.getBoundingClientRect().width);
          localStorage.setItem(storeKey, JSON.stringify(now));
        }
        document.addEventListener("mousemove", move);
        document.addEventListener("mouseup", up);
      });
      th.appendChild(grip);
    });
  }

  // After every refresh of the list (filters, pages, live changes): the choice and the widths again.
  document.body.addEventListener("htmx:afterSettle", function () {
    lastBox = null;
    fitColumns();
    paint();
  });
  fitColumns();
  paint();
})();
