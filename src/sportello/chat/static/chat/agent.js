// Agents' pages, live: presence (every page), who else is on this ticket and typing, what changed
// meanwhile, the inbox refreshing itself, drafts kept in localStorage, and the availability switch.
(function () {
  "use strict";
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";

  function open(path, onMessage) {
    var socket = null;
    var wait = 1000;
    function connect() {
      socket = new WebSocket(scheme + location.host + path);
      socket.onopen = function () { wait = 1000; };
      socket.onmessage = function (event) { onMessage(JSON.parse(event.data)); };
      socket.onclose = function (event) {
        if (event.code === 4403 || event.code === 4404) return;  // refused: do not knock again
        setTimeout(connect, wait);
        wait = Math.min(wait * 2, 30000);
      };
    }
    connect();
    return { send: function (m) { if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(m)); } };
  }

  // Availability: the header's switch saves at once.
  var availability = document.getElementById("availability-form");
  if (availability) {
    availability.addEventListener("change", function () {
      fetch(availability.action, {
        method: "POST", body: new FormData(availability), credentials: "same-origin", headers: { "HX-Request": "true" },
      }).then(function (r) { availability.dataset.saved = r.ok ? "yes" : "no"; });
    });
    availability.querySelector("button").hidden = true;
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

  var ticket = document.getElementById("ticket-live");
  if (ticket) {
    var viewers = document.getElementById("viewers");
    var typing = document.getElementById("typing");
    var changes = document.getElementById("live-changes");
    var live = open(ticket.dataset.socket, function (data) {
      if (data.type === "viewers") {
        viewers.textContent = data.viewers.length ? ticket.dataset.viewing + " " + data.viewers.join(", ") : "";
        viewers.hidden = !data.viewers.length;
      } else if (data.type === "typing") {
        typing.textContent = data.name + " " + ticket.dataset.typing;
        typing.hidden = false;
        clearTimeout(typing._timer);
        typing._timer = setTimeout(function () { typing.hidden = true; }, 5000);
      } else if (data.type === "changed" && !data.mine) {
        var li = document.createElement("li");
        li.textContent = data.by + ": " + (data.what === "entry"
          ? (data.internal ? ticket.dataset.noted : ticket.dataset.wrote)
          : ticket.dataset.changed + " " + (data.fields || []).join(", "));
        changes.querySelector("ul").appendChild(li);
        changes.hidden = false;
      }
    });
    var last = 0;
    document.querySelectorAll("#reply-form textarea, #note-form textarea").forEach(function (area) {
      area.addEventListener("input", function () {
        if (Date.now() - last > 2000) { last = Date.now(); live.send({ type: "typing" }); }
      });
    });
    return;
  }

  var inbox = document.getElementById("inbox-live");
  if (inbox) {
    var timer = null;
    open(inbox.dataset.socket, function (data) {
      if (data.type !== "changed" || !window.htmx) return;
      clearTimeout(timer);
      timer = setTimeout(function () {
        htmx.ajax("GET", location.href, { target: "#inbox-results", select: "#inbox-results", swap: "outerHTML" });
      }, 400);
    });
    return;
  }

  if (!document.getElementById("console")) open("/ws/agent/presence/", function () {});
})();
