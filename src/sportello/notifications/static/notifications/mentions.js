// @mentions in internal notes: typing "@" and a few letters in a text area marked `data-mentions`
// (or inside an element so marked) offers matching agents; picking one inserts "@username ".
// `data-mentions="note"` on a composer offers them only while its `data-mode` is "note".
(function () {
  "use strict";
  var bell = document.getElementById("bell");
  if (!bell) return;
  var url = bell.dataset.mentionsUrl;
  var TOKEN = /(^|[^\w@.+-])@([\w.+-]{0,30})$/;
  var serial = 0;

  function attach(area) {
    if (area.dataset.mentionsReady) return;
    area.dataset.mentionsReady = "yes";
    var id = "mention-picker-" + (++serial);
    var list = document.createElement("ul");
    list.className = "mention-picker";
    list.id = id;
    list.setAttribute("role", "listbox");
    list.hidden = true;
    area.insertAdjacentElement("afterend", list);
    area.setAttribute("aria-autocomplete", "list");
    area.setAttribute("aria-controls", id);
    var agents = [];
    var active = -1;
    var start = -1;
    var timer = null;
    var asked = 0;

    function hide() {
      list.hidden = true;
      agents = [];
      active = -1;
      area.removeAttribute("aria-activedescendant");
      area.setAttribute("aria-expanded", "false");
    }

    function render() {
      list.innerHTML = "";
      if (!agents.length) {
        const none = document.createElement("li");
        none.className = "empty";
        none.textContent = bell.dataset.noMatch;
        list.appendChild(none);
      }
      agents.forEach(function (agent, index) {
        var li = document.createElement("li");
        li.id = id + "-" + index;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", index === active ? "true" : "false");
        li.dataset.username = agent.username;
        li.textContent = agent.name + " ";
        var handle = document.createElement("span");
        handle.className = "muted small";
        handle.textContent = "@" + agent.username;
        li.appendChild(handle);
        li.addEventListener("mousedown", function (event) { event.preventDefault(); pick(index); });
        list.appendChild(li);
      });
      list.hidden = false;
      area.setAttribute("aria-expanded", "true");
      if (active >= 0) area.setAttribute("aria-activedescendant", id + "-" + active);
      else area.removeAttribute("aria-activedescendant");
    }

    function pick(index) {
      var agent = agents[index];
      if (!agent) return;
      var caret = area.selectionStart;
      var before = area.value.slice(0, start) + "@" + agent.username + " ";
      area.value = before + area.value.slice(caret);
      area.setSelectionRange(before.length, before.length);
      area.dispatchEvent(new Event("input", { bubbles: true }));  // drafts are saved on input
      hide();
      area.focus();
    }

    function lookup() {
      var scope = area.closest("[data-mentions]");
      var only = scope ? scope.dataset.mentions : "";
      if (only && scope.dataset.mode !== only) { hide(); return; }
      var caret = area.selectionStart;
      var match = caret === area.selectionEnd ? TOKEN.exec(area.value.slice(0, caret)) : null;
      if (!match) { hide(); return; }
      start = caret - match[2].length - 1;
      var prefix = match[2];
      var mine = ++asked;
      clearTimeout(timer);
      timer = setTimeout(function () {
        fetch(url + "?prefix=" + encodeURIComponent(prefix), { credentials: "same-origin", headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : []; })
          .then(function (found) {
            if (mine !== asked) return;  // a later keystroke asked again
            agents = found;
            active = found.length ? 0 : -1;
            render();
          })
          .catch(hide);
      }, 120);
    }

    area.addEventListener("input", function (event) { if (event.isTrusted) lookup(); });
    area.addEventListener("click", lookup);
    // Back in the area before the delay ends (a mode switched, a click away and back): keep the list.
    area.addEventListener("blur", function () {
      setTimeout(function () { if (document.activeElement !== area) hide(); }, 150);
    });
    area.addEventListener("keydown", function (event) {
      if (list.hidden || !agents.length) {
        if (event.key === "Escape" && !list.hidden) { event.preventDefault(); hide(); }
        return;
      }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : agents.length - 1)) % agents.length;
        render();
      } else if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        pick(active < 0 ? 0 : active);
      } else if (event.key === "Escape") {
        event.preventDefault();
        hide();
      }
    });
  }

  document.querySelectorAll("textarea[data-mentions], [data-mentions] textarea").forEach(attach);
})();
