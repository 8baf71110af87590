// The live dashboard (reports/dashboard.html): fetch the figures again when something changes.
//
// Two sockets of the agents' pages say so (chat/socket.js, with its backoff): the inbox socket
// (a ticket the agent may see was created or changed) and the chat console's (the chat queue
// changed). A burst of events makes one fetch: at most one a second, the last event always
// followed by one. A slow timer catches what no event announces (an agent going online, an SLA
// clock passing its due time), and a socket that comes back fetches at once (it missed events).
(function () {
  "use strict";
  var box = document.querySelector("[data-dashboard]");
  if (!box || !window.SportelloSocket) return;
  var url = box.dataset.url;
  var THROTTLE = 1000;
  var PERIOD = 30000;
  var last = 0;
  var timer = null;
  var inFlight = false;
  var again = false;

  function fetchFigures() {
    if (inFlight) {
      again = true;
      return;
    }
    inFlight = true;
    last = Date.now();
    box.setAttribute("aria-busy", "true");
    fetch(url, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (response) {
        return response.ok ? response.text() : null;
      })
      .then(function (html) {
        if (html !== null) box.innerHTML = html;
      })
      .catch(function () {})
      .then(function () {
        inFlight = false;
        box.setAttribute("aria-busy", "false");
        box.dataset.refreshed = String(Number(box.dataset.refreshed || 0) + 1);
        if (again) {
          again = false;
          schedule();
        }
      });
  }

  function schedule() {
    if (timer) return;
    var wait = Math.max(0, last + THROTTLE - Date.now());
    timer = setTimeout(function () {
      timer = null;
      fetchFigures();
    }, wait);
  }

  // data-live says whether both sockets are connected ("connected") or not ("waiting").
  var opened = {};
  var states = {};
  function onState(name) {
    return function (state) {
      states[name] = state;
      box.dataset.live = states.inbox === "connected" && states.console === "connected" ? "connected" : "waiting";
      if (state !== "connected") return;
      if (opened[name]) schedule(); // back after a drop: what happened meanwhile
      opened[name] = true;
    };
  }

  window.SportelloSocket.open("/ws/agent/inbox/", {
    onMessage: function (data) {
      if (data.type === "changed") schedule();
    },
    onState: onState("inbox"),
  });
  window.SportelloSocket.open("/ws/agent/console/", {
    onMessage: function (data) {
      if (data.type === "queue") schedule();
    },
    onState: onState("console"),
  });
  setInterval(schedule, PERIOD);
})();
