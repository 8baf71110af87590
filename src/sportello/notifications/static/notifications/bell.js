// The notification bell: the unread count over the bell's socket (live), the dropdown fetched when
// it opens, and reading notifications without leaving the page.
(function () {
  "use strict";
  var bell = document.getElementById("bell");
  if (!bell) return;
  var button = document.getElementById("bell-button");
  var badge = document.getElementById("bell-count");
  var label = document.getElementById("bell-label");
  var status = document.getElementById("bell-status");
  var menu = document.getElementById("bell-menu");
  var unread = null;

  function show(count, fresh) {
    var grew = unread !== null && count > unread;
    unread = count;
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
    bell.dataset.count = String(count);
    label.textContent = bell.dataset.label + (count ? " (" + bell.dataset.unread.replace("%(count)s", count) + ")" : "");
    if (fresh && grew) status.textContent = bell.dataset.new;
    if (!menu.hidden && fresh) load();
  }

  function load() {
    var next = location.pathname + location.search;
    return fetch(bell.dataset.menu + "?next=" + encodeURIComponent(next), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { menu.innerHTML = html; })
      .catch(function () { /* the bell still links to the full list */ });
  }

  function open() {
    load().then(function () {
      menu.hidden = false;
      button.setAttribute("aria-expanded", "true");
      var first = menu.querySelector("button, a");
      if (first) first.focus();
    });
  }

  function close(refocus) {
    if (menu.hidden) return;
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (refocus) button.focus();
  }

  button.addEventListener("click", function (event) {
    event.preventDefault();
    if (menu.hidden) open(); else close(false);
  });
  document.addEventListener("click", function (event) { if (!bell.contains(event.target)) close(false); });
  bell.addEventListener("keydown", function (event) { if (event.key === "Escape") close(true); });

  // "Mark read" and "Mark all read" in the dropdown: posted in the background, then the list reloads.
  menu.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute("data-bell-action")) return;  // opening one goes to its ticket
    event.preventDefault();
    fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin", headers: { "HX-Request": "true" },
    }).then(function (r) { if (r.ok) load().then(function () { button.focus(); }); });
  });

  // The socket: the pages' shared client (chat/socket.js) when the layout loads it, else our own,
  // with backoff; a refusal (4403) is final.
  function heard(data) { if (data.type === "notifications") show(data.unread, data.new); }
  if (window.SportelloSocket) {
    window.SportelloSocket.open(bell.dataset.socket, { onMessage: heard });
    return;
  }
  var scheme = location.protocol === "https:" ? "wss://" : "ws://";
  var wait = 1000;
  function connect() {
    var socket = new WebSocket(scheme + location.host + bell.dataset.socket);
    socket.onopen = function () { wait = 1000; };
    socket.onmessage = function (event) { heard(JSON.parse(event.data)); };
    socket.onclose = function (event) {
      if (event.code === 4403) return;
      setTimeout(connect, wait);
      wait = Math.min(wait * 2, 30000);
    };
  }
  connect();
})();
