// The agent's chat console: one socket for the queue and the chats held; actions are POSTs.
(function () {
  "use strict";
  var root = document.getElementById("console");
  var status = document.getElementById("console-status");
  var socket = null;
  var lastTyping = 0;

  function csrf() {
    var input = root.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function refresh() {
    fetch(root.dataset.part, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        // Keep what the agent is typing in each chat across the refresh.
        var drafts = {};
        root.querySelectorAll("textarea[name=text]").forEach(function (t) { drafts[t.id] = t.value; });
        root.innerHTML = html;
        Object.keys(drafts).forEach(function (id) { var t = document.getElementById(id); if (t) t.value = drafts[id]; });
        for (var chat of root.querySelectorAll("article.chat")) send({ type: "watch", conversation: chat.dataset.conversation });
      });
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function chatOf(id) { return document.getElementById("chat-" + id); }

  function connect() {
    var scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.onopen = function () { status.textContent = "●"; status.dataset.state = "connected"; };
    socket.onclose = function () { status.dataset.state = "disconnected"; setTimeout(connect, 2000); };
    socket.onmessage = function (event) {
      var data = JSON.parse(event.data);
      var chat = data.conversation ? chatOf(data.conversation) : null;
      if (data.type === "queue" || data.type === "console" || (data.type === "state" && chat)) {
        refresh();
      } else if (data.type === "message" && chat) {
        var log = chat.querySelector(".chat-log");
        if (log.querySelector('[data-entry="' + data.id + '"]')) return;
        var li = document.createElement("li");
        li.className = "from-" + data.from;
        li.dataset.entry = data.id;
        li.textContent = data.text;
        log.appendChild(li);
        chat.querySelector(".typing").hidden = true;
        if (data.from === "visitor") send({ type: "read", conversation: data.conversation, entry: data.id });
      } else if (data.type === "typing" && chat) {
        var typing = chat.querySelector(".typing");
        typing.hidden = false;
        clearTimeout(typing._timer);
        typing._timer = setTimeout(function () { typing.hidden = true; }, 4000);
      } else if (data.type === "read" && chat) {
        chat.querySelector(".seen").hidden = false;
      }
    };
  }

  root.addEventListener("submit", function (event) {
    var form = event.target;
    event.preventDefault();
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json", "X-CSRFToken": csrf() },
    }).then(function (r) { return r.json().then(function (body) { return [r.ok, body]; }); })
      .then(function (result) {
        if (!result[0]) { alert(result[1].error || "Error"); refresh(); return; }
        if (form.classList.contains("chat-send")) form.reset(); else refresh();
      });
  });

  root.addEventListener("input", function (event) {
    var chat = event.target.closest("article.chat");
    if (!chat || Date.now() - lastTyping < 2000) return;
    lastTyping = Date.now();
    send({ type: "typing", conversation: chat.dataset.conversation });
  });

  root.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && event.target.name === "text") {
      event.preventDefault();
      event.target.form.requestSubmit();
    }
  });

  // Waiting times tick on their own; the queue itself changes only when the socket says so.
  function tick() {
    root.querySelectorAll(".wait[data-since]").forEach(function (span) {
      var seconds = Math.max(0, Math.round((Date.now() - Date.parse(span.dataset.since)) / 1000));
      var minutes = Math.floor(seconds / 60);
      span.textContent = "⏱ " + minutes + ":" + String(seconds % 60).padStart(2, "0");
    });
  }
  setInterval(tick, 1000);
  tick();

  connect();
})();
