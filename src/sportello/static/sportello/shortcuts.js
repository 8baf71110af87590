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
// A field takes the focus; anything else is clicked. Hidden or disabled elements are skipped, so a
// page may mark several elements with the same key (the first visible one wins). The sheet lists
// the page's marked elements under "On this page", with data-shortcut-label (else aria-label,
// title or text) as the description. Keys never fire while a field has the focus, nor with Ctrl,
// Alt or Meta held, so typing and the browser's own shortcuts are untouched.
(function () {
  "use strict";
  const sheet = document.getElementById("shortcuts-help");
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

  function target(keys) {
    const marked = document.querySelectorAll("[data-shortcut]");
    for (let i = 0; i < marked.length; i++) {
      if (marked[i].dataset.shortcut === keys && visible(marked[i]) && !marked[i].closest("dialog")) return marked[i];
    }
    return null;
  }

  function act(element) {
    if (element.matches("input, textarea, select, [contenteditable]")) {
      element.focus();
      if (element.select && element.type !== "checkbox") element.select();
    } else {
      element.click();
    }
  }

  function fillSheet() {
    const body = document.getElementById("shortcuts-page");
    if (!body) return;
    body.replaceChildren();
    const builtIn = ["g i", "/"];
    const seen = {};
    document.querySelectorAll("main [data-shortcut]").forEach(function (element) {
      const keys = element.dataset.shortcut;
      if (seen[keys] || builtIn.indexOf(keys) !== -1 || !visible(element)) return;
      seen[keys] = true;
      const row = document.createElement("tr");
      const cell = document.createElement("td");
      keys.split(" ").forEach(function (key, index) {
        if (index) cell.append(" ");
        const kbd = document.createElement("kbd");
        kbd.textContent = key;
        cell.appendChild(kbd);
      });
      const what = document.createElement("td");
      what.textContent = describe(element);
      row.append(cell, what);
      body.appendChild(row);
    });
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
    const element = target(keys);
    if (element) {
      event.preventDefault();
      act(element);
    }
  });
})();
