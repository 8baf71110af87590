// One websocket client for the agents' pages (agent.js, console.js).
//
// A dropped or refused socket is opened again after an exponential backoff with jitter: the n-th
// retry in a row waits between half and all of min(cap, base × 2^n), so a restarting server is not
// knocked on at full speed, and the screens of a whole team do not all come back in the same
// instant. A socket that opens resets the count. Close codes 4403 and 4404 mean "refused for
// good" (no access, no such ticket): knocking again would not help, so the client stops.
//
// While any socket of the page has failed to reconnect at least once, the header's
// #connection-state says so ("Reconnecting…"), and hides again once every socket is back.
//
// Usage:  var live = SportelloSocket.open("/ws/…/", { onMessage: fn(data), onState: fn(state) });
//         live.send({ type: "typing" });        // dropped while not connected
// States passed to onState: "connecting", "connected", "reconnecting", "refused".
// Tests may set window.SportelloSocketOptions = { base: 100, cap: 2000 } before the page loads.
(function () {
  "use strict";
  var defaults = { base: 1000, cap: 30000 };
  var FINAL = [4403, 4404];
  var waiting = 0;

  function settings() {
    var given = window.SportelloSocketOptions || {};
    return { base: given.base || defaults.base, cap: given.cap || defaults.cap };
  }

  // The wait before retry number `attempt` (0 for the first retry), in milliseconds.
  function delay(attempt, random) {
    var limits = settings();
    var ceiling = Math.min(limits.cap, limits.base * 2 ** Math.min(attempt, 30));
    return ceiling / 2 + (random === undefined ? Math.random() : random) * (ceiling / 2);
  }

  function showWaiting(change) {
    waiting = Math.max(0, waiting + change);
    var badge = document.getElementById("connection-state");
    if (badge) badge.hidden = waiting === 0;
  }

  function open(path, options) {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    var socket = null;
    var attempt = 0;
    var retrying = false;
    var onState = options.onState || function () {};

    function setRetrying(value) {
      if (value === retrying) return;
      retrying = value;
      showWaiting(value ? 1 : -1);
    }

    function connect() {
      onState(attempt ? "reconnecting" : "connecting");
      socket = new WebSocket(scheme + location.host + path);
      socket.onopen = function () {
        attempt = 0;
        setRetrying(false);
        onState("connected");
        if (options.onOpen) options.onOpen();
      };
      socket.onmessage = function (event) {
        var data;
        try {
          data = JSON.parse(event.data);
        } catch (_error) {
          return;
        }
        options.onMessage(data);
      };
      socket.onclose = function (event) {
        if (FINAL.indexOf(event.code) !== -1) {
          setRetrying(false);
          onState("refused");
          return;
        }
        // A blip (a server restart, one retry that works) stays silent; a second failure in a row shows.
        if (attempt >= 1) setRetrying(true);
        onState("reconnecting");
        setTimeout(connect, delay(attempt));
        attempt += 1;
      };
    }

    connect();
    return {
      send: function (message) {
        if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
      },
    };
  }

  window.SportelloSocket = { open: open, delay: delay };
})();
