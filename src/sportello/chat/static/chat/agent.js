// Agents' pages, live: presence (every page), who else is on this ticket and typing, what changed
// meanwhile, the inbox refreshing itself, drafts kept in localStorage, and the availability switch.
(function () {
  "use strict";
  var open = function (path, onMessage) {
    return window.SportelloSocket.open(path, { onMessage: onMessage });
  };
  var ticket = document.getElementById("ticket-live");

  // The names of changed fields in the agent's language: the ticket page's data-field-labels
  // (JSON, field → label), else the page's own <label>s. Columns with neither (state, solved_at, …)
  // are bookkeeping and are left out.
  var fieldLabels = {};
  try {
    fieldLabels = JSON.parse(ticket?.dataset.fieldLabels || "{}");
  } catch (_error) {
    fieldLabels = {};
  }
  function fieldNames(fields) {
    var names = [];
    (fields || []).forEach(function (field) {
      var label = document.querySelector('label[for="id_' + field + '"]');
      var name = fieldLabels[field] || (label ? label.textContent.replace("*", "").trim() : "");
      if (name && names.indexOf(name) === -1) names.push(name);
    });
    return names.join(", ");
  }
  var inbox = document.getElementById("inbox-live");

  // Availability: the header's switch is a form of three buttons that works without a script;
  // here a press saves in the background and the pressed button changes at once.
  var availability = document.getElementById("availability-form");
  if (availability) {
    availability.addEventListener("submit", function (event) {
      var button = event.submitter;
      if (!button || button.name !== "availability") return;
      event.preventDefault();
      var body = new FormData(availability);
      body.set("availability", button.value);
      fetch(availability.action, {
        method: "POST", body: body, credentials: "same-origin", headers: { "HX-Request": "true" },
      }).then(function (r) {
        availability.dataset.saved = r.ok ? "yes" : "no";
        if (!r.ok) return;
        availability.dataset.availability = button.value;
        availability.querySelectorAll("button[name=availability]").forEach(function (other) {
          other.setAttribute("aria-pressed", other === button ? "true" : "false");
        });
      });
    });
  }

  // Drafts survive a reload: saved as they are typed, and dropped only once the page that follows
  // a send shows no conflict and no error (a stopped reply keeps its draft, even across reloads).
  var page = document.getElementById("ticket-live");
  var sent = sessionStorage.getItem("sportello-sent");
  if (sent) {
    sessionStorage.removeItem("sportello-sent");
    if (!document.querySelector("#conflict, #action-error, .errorlist")) localStorage.removeItem(sent);
  }
  [["#reply-form textarea[name=body]", "reply"], ["#note-form textarea[name=body]", "note"]].forEach(function (pair) {
    var area = page && document.querySelector(pair[0]);
    if (!area) return;
    var key = "sportello-draft:" + page.dataset.number + ":" + pair[1];
    if (!area.value && localStorage.getItem(key)) area.value = localStorage.getItem(key);
    area.addEventListener("input", function () {
      if (area.value) localStorage.setItem(key, area.value); else localStorage.removeItem(key);
    });
    area.form.addEventListener("submit", function () { sessionStorage.setItem("sportello-sent", key); });
  });

  if (ticket) {
    const viewers = document.getElementById("viewers");
    const typing = document.getElementById("typing");
    const changes = document.getElementById("live-changes");
    const live = open(ticket.dataset.socket, function (data) {
      if (data.type === "viewers") {
        viewers.textContent = data.viewers.length ? ticket.dataset.viewing + " " + data.viewers.join(", ") : "";
        viewers.hidden = !data.viewers.length;
      } else if (data.type === "typing") {
        typing.textContent = data.name + " " + ticket.dataset.typing;
        typing.hidden = false;
        clearTimeout(typing._timer);
        typing._timer = setTimeout(function () { typing.hidden = true; }, 5000);
      } else if (data.type === "changed" && !data.mine) {
        const li = document.createElement("li");
        li.textContent = data.by + ": " + (data.what === "entry"
          ? (data.internal ? ticket.dataset.noted : ticket.dataset.wrote)
          : (ticket.dataset.changed + " " + fieldNames(data.fields)).trim());
        changes.querySelector("ul").appendChild(li);
        changes.hidden = false;
      }
    });
    let last = 0;
    document.querySelectorAll("#reply-form textarea, #note-form textarea").forEach(function (area) {
      area.addEventListener("input", function () {
        if (Date.now() - last > 2000) { last = Date.now(); live.send({ type: "typing" }); }
      });
    });
    return;
  }

  // The inbox: a change refreshes the list (a burst of changes, once). data-live on #inbox-live says
  // whether the socket listens ("connected") or not ("waiting"); a socket that comes back after a
  // drop refreshes the list too, since changes made meanwhile were never pushed.
  if (inbox) {
    let timer = null;
    let dropped = false;
    const refresh = function (wait) {
      if (!window.htmx) return;
      clearTimeout(timer);
      timer = setTimeout(function () {
        htmx.ajax("GET", location.href, { target: "#inbox-results", select: "#inbox-results", swap: "outerHTML" });
      }, wait);
    };
    inbox.dataset.live = "waiting";
    window.SportelloSocket.open(inbox.dataset.socket, {
      onMessage: function (data) {
        if (data.type === "changed") refresh(400);
      },
      onState: function (state) {
        if (state === "reconnecting") dropped = true;
        inbox.dataset.live = state === "connected" ? "connected" : "waiting";
      },
      onOpen: function () {
        if (dropped) refresh(0);
        dropped = false;
      },
    });
    return;
  }

  if (!document.getElementById("console")) open("/ws/agent/presence/", function () {});
})();
