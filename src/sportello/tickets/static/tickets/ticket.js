// The ticket page: the composer's modes, macro previews, drag and drop of files, property-panel
// answers that htmx would not show (a 409 conflict), and live notices in the agent's words.
(function () {
  "use strict";

  var composer = document.getElementById("reply-form");

  // --- Composer: reply / internal note / forward -----------------------------------------------
  function showMode() {
    if (!composer) return;
    var checked = composer.querySelector("input[name=mode]:checked");
    var mode = checked ? checked.value : "reply";
    composer.dataset.mode = mode;
    composer.querySelectorAll("[data-modes]").forEach(function (part) {
      part.hidden = part.dataset.modes.split(" ").indexOf(mode) < 0;
    });
    var send = document.getElementById("compose-send");
    if (send && send.dataset["label" + mode.charAt(0).toUpperCase() + mode.slice(1)]) {
      send.textContent = send.dataset["label" + mode.charAt(0).toUpperCase() + mode.slice(1)];
    }
  }
  if (composer) {
    composer.addEventListener("change", function (event) {
      if (event.target.name === "mode") showMode();
    });
    showMode();
  }

  // --- Macros: the preview fills the composer; its changes are made with the send -------------------
  document.body.addEventListener("htmx:afterSettle", function (event) {
    var preview = event.detail.elt && event.detail.elt.id === "macro-preview" ? event.detail.elt : null;
    if (!preview) preview = document.querySelector("#macro-preview[data-macro]:not([data-inserted])");
    if (!preview || preview.dataset.inserted || !preview.dataset.macro) return;
    preview.dataset.inserted = "yes";
    var text = preview.querySelector("template.macro-text");
    var area = composer && composer.querySelector("textarea[name=body]");
    if (text && area) {
      let words = text.content.textContent;
      area.value = area.value.trim() ? area.value.replace(/\s+$/, "") + "\n\n" + words : words;
      area.dispatchEvent(new Event("input", { bubbles: true }));
      area.focus();
    }
  });
  document.addEventListener("click", function (event) {
    var remove = event.target.closest && event.target.closest("[data-macro-remove]");
    if (!remove) return;
    var preview = document.getElementById("macro-preview");
    var empty = document.createElement("div");
    empty.id = "macro-preview";
    empty.hidden = true;
    preview.replaceWith(empty);
  });
  // A macro inserted without a script (after a redirect) already has its text in the draft.
  var pending = document.querySelector("#macro-preview[data-macro]");
  if (pending) pending.dataset.inserted = "yes";

  // --- Files: drag and drop into the composer, images previewed ---------------------------------
  var zone = document.getElementById("drop-zone");
  var input = zone && zone.querySelector("input[type=file]");
  var list = document.getElementById("drop-list");
  function listFiles() {
    list.textContent = "";
    Array.prototype.forEach.call(input.files, function (file) {
      var item = document.createElement("li");
      if (/^image\/(png|jpeg|gif|webp)$/.test(file.type)) {
        let img = document.createElement("img");
        img.alt = file.name;
        let reader = new FileReader();  // a data: URL: the page's policy allows no blob: images
        reader.onload = function () { img.src = reader.result; };
        reader.readAsDataURL(file);
        item.appendChild(img);
      }
      item.appendChild(document.createTextNode(file.name));
      list.appendChild(item);
    });
  }
  if (zone && input && list) {
    input.addEventListener("change", listFiles);
    ["dragenter", "dragover"].forEach(function (name) {
      (composer || zone).addEventListener(name, function (event) {
        if (!event.dataTransfer || Array.prototype.indexOf.call(event.dataTransfer.types, "Files") < 0) return;
        event.preventDefault();
        zone.classList.add("dragging");
      });
    });
    (composer || zone).addEventListener("dragleave", function (event) {
      if (!composer.contains(event.relatedTarget)) zone.classList.remove("dragging");
    });
    (composer || zone).addEventListener("drop", function (event) {
      if (!event.dataTransfer || !event.dataTransfer.files.length) return;
      event.preventDefault();
      zone.classList.remove("dragging");
      var all = new DataTransfer();
      Array.prototype.forEach.call(input.files, function (file) { all.items.add(file); });
      Array.prototype.forEach.call(event.dataTransfer.files, function (file) { all.items.add(file); });
      input.files = all.files;
      listFiles();
    });
  }

  // --- Properties: a conflict (409) or a refused value (422) is shown, not dropped -----------------
  document.body.addEventListener("htmx:beforeSwap", function (event) {
    var status = event.detail.xhr.status;
    if (event.detail.target && event.detail.target.id === "update-form" && (status === 409 || status === 422)) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // The agent's own property change keeps the composer's draft sendable: when the panel's answer
  // to their save holds the version just after the composer's (their change and nothing else), the
  // composer takes it; a change by anyone else in between still gives the conflict on sending.
  var ownSave = null;
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt?.closest?.("#update-form");
    var seen = composer?.querySelector("input[name=version]");
    if (form && seen && event.detail.requestConfig?.verb === "post") {
      ownSave = parseInt(seen.value, 10);
    }
  });
  // htmx:load, on the new panel once it is in the page: the events of an outerHTML swap fire on
  // the old panel, out of the page by then, and never reach the body.
  document.body.addEventListener("htmx:load", function (event) {
    if (ownSave === null || !event.detail.elt?.matches?.("#update-form")) return;
    var panel = document.querySelector("#update-form input[name=version]");
    var seen = composer?.querySelector("input[name=version]");
    if (!panel || !seen) return;
    if (parseInt(panel.value, 10) === ownSave + 1) seen.value = panel.value;
    ownSave = null;
  });

  // Someone else changed fields: the panel shows the ticket as it is now, unless the agent is in
  // the middle of editing it (then their save is checked field by field on the server anyway).
  function refreshProperties() {
    var form = document.getElementById("update-form");
    if (!form || !window.htmx || form.contains(document.activeElement)) return;
    htmx.ajax("GET", location.pathname, { target: "#update-form", select: "#update-form", swap: "outerHTML" });
  }

  // --- Live notices: field names in the agent's words ---------------------------------------------
  var live = document.getElementById("ticket-live");
  var notices = document.querySelector("#live-changes ul");
  if (live && notices && window.MutationObserver) {
    let labels = {};
    try { labels = JSON.parse(live.dataset.fieldLabels || "{}"); } catch (e) { labels = {}; }
    let changed = live.dataset.changed + " ";
    new MutationObserver(function (records) {
      records.forEach(function (record) {
        record.addedNodes.forEach(function (node) {
          if (node.nodeType !== 1 || node.dataset.worded) return;
          node.dataset.worded = "yes";
          var at = node.textContent.indexOf(changed);
          if (at < 0) return;
          var names = node.textContent.slice(at + changed.length).split(", ").filter(function (name) {
            return name !== "state" && name !== "solved_at";
          });
          var words = names.map(function (name) { return labels[name] || name.replace(/_/g, " "); });
          node.textContent = node.textContent.slice(0, at + changed.length) + words.join(", ");
          refreshProperties();
        });
      });
    }).observe(notices, { childList: true });
  }
})();
