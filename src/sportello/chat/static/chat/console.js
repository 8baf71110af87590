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

  // One refresh at a time; asked again meanwhile, it runs once more after.
  var refreshing = false, again = false;
  function refresh() {
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(root.dataset.part, { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var fresh = document.createElement("div");
        fresh.innerHTML = html;
        // A chat already on screen keeps its elements (what the agent is typing, a click under
        // way, a file chosen); only its log is brought up to date. Replacing it would swallow a
        // Send pressed while the refresh was on its way.
        var focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement : null;
        fresh.querySelectorAll("article.chat").forEach(function (article) {
          var current = document.getElementById(article.id);
          if (!current) return;
          current.querySelector(".chat-log").replaceWith(article.querySelector(".chat-log"));
          article.replaceWith(current);
        });
        root.replaceChildren.apply(root, Array.from(fresh.childNodes));
        if (focused && root.contains(focused)) focused.focus();
        for (var chat of root.querySelectorAll("article.chat")) send({ type: "watch", conversation: chat.dataset.conversation });
      })
      .catch(function () {})
      .then(function () {
        refreshing = false;
        if (again) { again = false; refresh(); }
      });
  }

  function send(message) {
    if (socket) socket.send(message);
  }

  // A line's time as the agent reads it: their language and time zone, hours and minutes (the
  // server renders the lines already there the same way).
  var clock = new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
    hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: root.dataset.timeZone || undefined,
  });

  function line(data) {
    const li = document.createElement("li");
    li.className = "from-" + data.from;
    li.dataset.entry = data.id;
    const meta = document.createElement("span");
    meta.className = "chat-meta";
    const who = document.createElement("strong");
    who.className = "chat-sender";
    who.textContent = data.name || (data.from === "visitor" ? root.dataset.visitor : root.dataset.agent);
    const when = document.createElement("time");
    when.dateTime = data.at || new Date().toISOString();
    when.textContent = clock.format(new Date(when.dateTime));
    meta.append(who, " ", when);
    li.appendChild(meta);
    const files = data.files || [];
    // A file's own line ("📎 name") becomes its link; any other text stays as it is.
    if (!files.length || data.text.indexOf("📎") !== 0) {
      const text = document.createElement("span");
      text.className = "chat-text";
      text.textContent = data.text;
      li.appendChild(text);
    }
    files.forEach(function (file) {
      const link = document.createElement("a");
      link.className = "file";
      link.href = "/attachments/" + file.id + "/";
      link.textContent = "📎 " + file.name;
      li.appendChild(link);
    });
    return li;
  }

  function chatOf(id) { return document.getElementById("chat-" + id); }

  function connect() {
    socket = window.SportelloSocket.open(root.dataset.socket, {
      onState: function (state) {
        status.dataset.state = state === "connected" ? "connected" : state === "connecting" ? "connecting" : "disconnected";
        status.textContent = status.dataset[state] || status.textContent;
      },
      onMessage: onMessage,
    });
  }

  function onMessage(data) {
      const chat = data.conversation ? chatOf(data.conversation) : null;
      if (data.type === "queue" || data.type === "console" || (data.type === "state" && chat)) {
        refresh();
      } else if (data.type === "message" && chat) {
        const log = chat.querySelector(".chat-log");
        if (log.querySelector('[data-entry="' + data.id + '"]')) return;
        log.appendChild(line(data));
        chat.querySelector(".typing").hidden = true;
        if (data.from === "visitor") send({ type: "read", conversation: data.conversation, entry: data.id });
      } else if (data.type === "typing" && chat) {
        const typing = chat.querySelector(".typing");
        typing.hidden = false;
        clearTimeout(typing._timer);
        typing._timer = setTimeout(function () { typing.hidden = true; }, 4000);
      } else if (data.type === "read" && chat) {
        chat.querySelector(".seen").hidden = false;
      }
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
        if (form.classList.contains("chat-send") || form.classList.contains("chat-file")) form.reset(); else refresh();
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
