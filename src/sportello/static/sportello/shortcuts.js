// Keyboard shortcuts on every agent page, and the `?` sheet that lists them.
//
// Built in: `g` then `i` goes to the inbox, `/` goes to the search box, `?` opens the sheet,
// Esc leaves a field (or closes the sheet).
//
// A page adds its own by marking an element — no script needed:
//
//   <button data-shortcut="r" data-shortcut-label="Reply">…</button>     r clicks it
//   <textarea data-shortcut="n" data-shortcut-label="Write a note">       n puts the cursor in it
//   <a href="…" data-shortcut="g c" data-shortcut-label="Go to the customer">   g, then c, follows it
//
// A key is one character, or two separated by a space (a sequence: the first must be `g`).
// A field takes the focus (a radio button or a checkbox is clicked); anything else is clicked.
// Hidden or disabled elements are skipped, so a page may mark several elements with the same key
// (the first visible one wins). The sheet lists the page's marked elements under "On this page",
// with data-shortcut-label (else aria-label, title or text) as the description. Keys never fire
// while a field has the focus, nor with Ctrl, Alt or Meta held, so typing and the browser's own
// shortcuts are untouched.
//
// Two more attributes, for an element a page does not render itself (a form from another
// template): data-shortcut-target="<selector>" — the key acts on the first visible element that
// matches instead (the marked element may then be hidden); data-shortcut-then="<selector>" — after
// acting, the focus goes there (r: choose "Reply" in the composer, then write).
//
// Ctrl+Enter (or Cmd+Enter) in a form with data-send-shortcut="<its send button's selector>" sends
// it from the text (the composer).
//
// A button with data-fill="<selector>" and data-fill-value="<value>" sets that field (a select) to
// the value and tells it changed, so the property panel saves it: "Assign to me".
//
// Lists of tickets (`table.tickets` rows with data-ticket, in the inbox and on the search page):
// j / k move a cursor down and up the rows (Enter opens the ticket, x ticks its box). The list's
// order is kept in sessionStorage when the agent opens a ticket from it, so on the ticket page
// j / k open the next and the previous ticket of that list and u goes back to it
// (`[data-ticket-pager]`, filled here, shows the links and the position).
(function () {
  "use strict";
  const sheet = document.getElementById("shortcuts-help");
  const LIST_KEY = "sportello-ticket-list";
  let pending = "";
  let pendingTimer = null;

  function typing(target) {
    if (!target || !target.closest) return false;
    return Boolean(target.closest("input, textarea, select, [contenteditable=''], [contenteditable=true]"));
  }

  function visible(element) {
    return !element.disabled && !element.closest("[hidden]") && element.getClientRects().length > 0;
  }

  function describe(element) {
    return (
      element.dataset.shortcutLabel ||
      element.getAttribute("aria-label") ||
      element.getAttribute("title") ||
      element.textContent.trim()
    );
  }

  // The element a marked one acts on: itself, or the first visible match of its target selector.
  function resolve(marked) {
    const selector = marked.dataset.shortcutTarget;
    if (!selector) return visible(marked) ? marked : null;
    const found = Array.prototype.find.call(document.querySelectorAll(selector), visible);
    return found || null;
  }

  function target(keys) {
    const marked = document.querySelectorAll("[data-shortcut]");
    for (let i = 0; i < marked.length; i++) {
      if (marked[i].dataset.shortcut !== keys || marked[i].closest("dialog")) continue;
      const element = resolve(marked[i]);
      if (element) return { marked: marked[i], element: element };
    }
    return null;
  }

  function act(found) {
    const element = found.element;
    if (element.matches("input[type=radio], input[type=checkbox]")) {
      element.click();
      element.focus();
    } else if (element.matches("input, textarea, select, [contenteditable]")) {
      element.focus();
      if (element.select && element.matches("input, textarea")) element.select();
    } else {
      element.click();
    }
    const then = found.marked.dataset.shortcutThen;
    const next = then && Array.prototype.find.call(document.querySelectorAll(then), visible);
    if (next) next.focus();
  }

  // --- "Assign to me": a button that sets a field of a form elsewhere ------------------------------
  document.addEventListener("click", function (event) {
    const button = event.target.closest ? event.target.closest("[data-fill]") : null;
    if (!button) return;
    const field = document.querySelector(button.dataset.fill);
    if (!field || field.disabled) return;
    const wanted = button.dataset.fillValue;
    if (field.value === wanted) return;
    field.value = wanted;
    if (field.value !== wanted) return;  // not among its choices: nothing to save
    field.dispatchEvent(new Event("change", { bubbles: true }));
  });

  // --- Lists of tickets: a cursor on the rows, and the list kept for the ticket page ------------------
  function rows() {
    return Array.prototype.filter.call(document.querySelectorAll("main table.tickets tr[data-ticket]"), visible);
  }

  function rememberList() {
    const list = rows();
    if (!list.length) return;
    const numbers = list.map(function (row) { return row.dataset.ticket; });
    try {
      sessionStorage.setItem(LIST_KEY, JSON.stringify({ numbers: numbers, url: location.pathname + location.search }));
    } catch (_e) {
      // Storage refused (private mode, full): next and previous are simply not offered.
    }
  }

  function currentRow() {
    const focused = document.activeElement?.closest?.("tr[data-ticket]");
    return focused || document.querySelector("main table.tickets tr.cursor");
  }

  function moveCursor(step) {
    const list = rows();
    if (!list.length) return false;
    const at = list.indexOf(currentRow());
    const row = list[at < 0 ? (step > 0 ? 0 : list.length - 1) : Math.min(list.length - 1, Math.max(0, at + step))];
    list.forEach(function (each) { each.classList.toggle("cursor", each === row); });
    const link = row.querySelector("td.subject a") || row.querySelector("a");
    if (link) link.focus();
    row.scrollIntoView({ block: "nearest" });
    return true;
  }

  function tickCursor() {
    const row = currentRow();
    const box = row?.querySelector("input[name=pick]");
    if (!box) return false;
    box.click();
    const link = row.querySelector("td.subject a");
    if (link) link.focus();
    return true;
  }

  function storedList() {
    try {
      const data = JSON.parse(sessionStorage.getItem(LIST_KEY) || "null");
      return data && Array.isArray(data.numbers) ? data : null;
    } catch (_e) {
      return null;
    }
  }

  function fillPager() {
    const pager = document.querySelector("[data-ticket-pager]");
    const list = storedList();
    if (!pager || !list) return;
    const at = list.numbers.indexOf(pager.dataset.ticketPager);
    if (at < 0) return;
    const base = pager.dataset.ticketUrl;  // e.g. /tickets/0/
    function link(number, text, key, label) {
      const a = document.createElement("a");
      a.href = base.replace(/\/0\/$/, "/" + number + "/");
      a.textContent = text;
      a.dataset.shortcut = key;
      a.dataset.shortcutLabel = label;
      return a;
    }
    const back = document.createElement("a");
    back.href = list.url;
    back.textContent = pager.dataset.backLabel;
    back.dataset.shortcut = "u";
    back.dataset.shortcutLabel = pager.dataset.backLabel;
    const position = document.createElement("span");
    position.className = "muted";
    position.textContent = pager.dataset.position.replace("%(n)s", at + 1).replace("%(total)s", list.numbers.length);
    const parts = [back, position];
    if (at > 0) parts.push(link(list.numbers[at - 1], "‹ " + pager.dataset.previousLabel, "k", pager.dataset.previousLabel));
    if (at < list.numbers.length - 1) {
      parts.push(link(list.numbers[at + 1], pager.dataset.nextLabel + " ›", "j", pager.dataset.nextLabel));
    }
    pager.replaceChildren();
    parts.forEach(function (part, index) {
      if (index) pager.append(" · ");
      pager.appendChild(part);
    });
    pager.hidden = false;
  }

  // --- The sheet ---------------------------------------------------------------------------------------
  function sheetRow(keys, what) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    keys.split(" ").forEach(function (key, index) {
      if (index) cell.append(" ");
      const kbd = document.createElement("kbd");
      kbd.textContent = key;
      cell.appendChild(kbd);
    });
    const description = document.createElement("td");
    description.textContent = what;
    row.append(cell, description);
    return row;
  }

  function fillSheet() {
    const body = document.getElementById("shortcuts-page");
    if (!body) return;
    body.replaceChildren();
    const builtIn = ["g i", "/"];
    const seen = {};
    document.querySelectorAll("main [data-shortcut]").forEach(function (element) {
      const keys = element.dataset.shortcut;
      if (seen[keys] || builtIn.indexOf(keys) !== -1 || !resolve(element)) return;
      seen[keys] = true;
      body.appendChild(sheetRow(keys, describe(element)));
    });
    const table = document.querySelector("main table.tickets[data-list-down]");
    if (table && rows().length) {
      body.appendChild(sheetRow("j", table.dataset.listDown));
      body.appendChild(sheetRow("k", table.dataset.listUp));
      body.appendChild(sheetRow("Enter", table.dataset.listOpen));
      if (table.querySelector("input[name=pick]")) body.appendChild(sheetRow("x", table.dataset.listPick));
    }
    const composer = document.querySelector("main form[data-send-shortcut][data-send-label]");
    if (composer && visible(composer)) body.appendChild(sheetRow("Ctrl Enter", composer.dataset.sendLabel));
    if (body.children.length) {
      const title = document.createElement("tr");
      const th = document.createElement("th");
      th.colSpan = 2;
      th.textContent = body.dataset.title;
      title.appendChild(th);
      body.prepend(title);
    }
  }

  function openSheet() {
    if (!sheet || sheet.open) return;
    fillSheet();
    sheet.showModal();
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey) return;
    if (event.key === "Escape" && typing(event.target) && !event.target.closest("dialog")) {
      event.target.blur();
      return;
    }
    if (typing(event.target) || sheet?.open) return;
    const key = event.key;
    if (key.length !== 1) return;
    if (key === "?") {
      event.preventDefault();
      openSheet();
      return;
    }
    const keys = pending ? pending + " " + key : key;
    clearTimeout(pendingTimer);
    pending = "";
    if (keys === "g") {
      pending = "g";
      pendingTimer = setTimeout(function () { pending = ""; }, 1500);
      return;
    }
    const found = target(keys);
    if (found) {
      event.preventDefault();
      act(found);
      return;
    }
    // On a list of tickets (no marked element took the key): the row cursor.
    if ((keys === "j" && moveCursor(1)) || (keys === "k" && moveCursor(-1)) || (keys === "x" && tickCursor())) {
      event.preventDefault();
    }
  });

  // Ctrl+Enter (Cmd+Enter) in a form marked data-send-shortcut="<its send button>" sends it.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey) || !event.target.closest) return;
    const form = event.target.closest("form[data-send-shortcut]");
    if (!form) return;
    event.preventDefault();
    const button = form.querySelector(form.dataset.sendShortcut);
    if (button && !button.disabled) form.requestSubmit(button);
  });

  // The list's order, as shown when a ticket is opened from it (after filters, sorting, live
  // refreshes): a click on a row's link, or Enter (which clicks the focused link).
  document.addEventListener("click", function (event) {
    if (event.target.closest?.("main table.tickets tr[data-ticket] a")) rememberList();
  });
  fillPager();
})();
