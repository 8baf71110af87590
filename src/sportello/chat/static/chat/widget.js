/* Sportello chat widget: <script src="https://<sportello>/chat/widget.js" data-channel="KEY" async></script>
 * Plain JavaScript, no build step, no third-party requests. It talks only to the Sportello that
 * served it (found from this script's own src), keeps the visitor's signed token in localStorage
 * so a reload continues the conversation, and renders inside a shadow root so the host page's
 * CSS cannot break it (nor it the page's). Optional: data-lang="it" (else the browser's language).
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__sportelloChat) return;
  window.__sportelloChat = true;
  var base = new URL(script.src, location.href);
  var key = script.getAttribute("data-channel") || "";
  var STRINGS = {
    en: { open: "Chat with us", close: "Close", send: "Send", placeholder: "Write a message…", name: "Your name",
      email: "Your email", typing: "typing…", seen: "Seen", waiting: "Waiting for an agent…", joined: "is here to help",
      ended: "The chat has ended.", transcript: "Email me the transcript", sent: "The transcript is on its way to",
      offline: "Nobody is online right now. Leave a message and we will answer by email.", leave: "Leave a message",
      left: "Thank you! Your request number is", end: "End chat", you: "You", agent: "Support", error: "Error", file: "Send a file", download: "Download",
      suggested: "These articles may answer your question:", solved: "This solved my problem", glad: "Glad it helped!" },
    it: { open: "Chatta con noi", close: "Chiudi", send: "Invia", placeholder: "Scrivi un messaggio…", name: "Il tuo nome",
      email: "La tua email", typing: "sta scrivendo…", seen: "Letto", waiting: "In attesa di un operatore…", joined: "è qui per aiutarti",
      ended: "La chat è terminata.", transcript: "Inviami la trascrizione", sent: "La trascrizione è in arrivo a",
      offline: "Al momento nessuno è in linea. Lascia un messaggio e ti risponderemo per email.", leave: "Lascia un messaggio",
      left: "Grazie! Il numero della tua richiesta è", end: "Termina chat", you: "Tu", agent: "Assistenza", error: "Errore", file: "Invia un file", download: "Scarica",
      suggested: "Questi articoli potrebbero rispondere alla tua domanda:", solved: "Questo ha risolto il mio problema", glad: "Siamo contenti di esserti stati utili!" },
    de: { open: "Chatten Sie mit uns", close: "Schließen", send: "Senden", placeholder: "Nachricht schreiben…", name: "Ihr Name",
      email: "Ihre E-Mail", typing: "schreibt…", seen: "Gelesen", waiting: "Warten auf einen Mitarbeiter…", joined: "hilft Ihnen gern",
      ended: "Der Chat ist beendet.", transcript: "Verlauf per E-Mail senden", sent: "Der Verlauf geht an",
      offline: "Gerade ist niemand online. Hinterlassen Sie eine Nachricht, wir antworten per E-Mail.", leave: "Nachricht hinterlassen",
      left: "Danke! Ihre Anfragenummer ist", end: "Chat beenden", you: "Sie", agent: "Support", error: "Fehler", file: "Datei senden", download: "Herunterladen",
      suggested: "Diese Artikel beantworten vielleicht Ihre Frage:", solved: "Das hat mein Problem gelöst", glad: "Schön, dass es geholfen hat!" },
    bg: { open: "Пишете ни", close: "Затвори", send: "Изпрати", placeholder: "Напишете съобщение…", name: "Вашето име",
      email: "Вашият имейл", typing: "пише…", seen: "Прочетено", waiting: "Изчакване на служител…", joined: "е тук, за да помогне",
      ended: "Чатът приключи.", transcript: "Изпратете ми записа по имейл", sent: "Записът е изпратен на",
      offline: "В момента няма никой на линия. Оставете съобщение и ще отговорим по имейл.", leave: "Оставете съобщение",
      left: "Благодарим! Номерът на вашата заявка е", end: "Край на чата", you: "Вие", agent: "Поддръжка", error: "Грешка", file: "Изпратете файл", download: "Изтегляне",
      suggested: "Тези статии може да отговорят на въпроса ви:", solved: "Това реши проблема ми", glad: "Радваме се, че помогна!" },
  };
  var lang = (script.getAttribute("data-lang") || navigator.language || "en").slice(0, 2).toLowerCase();
  if (!STRINGS[lang]) lang = "en";
  var t = STRINGS[lang];
  var storeKey = "sportello-chat:" + base.host + ":" + key;
  var state = JSON.parse(localStorage.getItem(storeKey) || "{}");
  var socket = null, welcome = null, closedForGood = false, lastTyping = 0;

  function save() { localStorage.setItem(storeKey, JSON.stringify(state)); }
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  var host = el("div", { id: "sportello-chat" });
  var shadow = host.attachShadow({ mode: "open" });
  var css = [
    ":host{all:initial;font:14px/1.4 system-ui,sans-serif;color:#1c2430}",
    ".launcher{position:fixed;right:20px;bottom:20px;z-index:2147483000;border:0;border-radius:24px;padding:12px 18px;background:var(--sportello-accent,#1f6feb);color:#fff;font:inherit;cursor:pointer;box-shadow:0 2px 8px rgba(0,0,0,.25)}",
    ".panel{position:fixed;right:20px;bottom:76px;z-index:2147483000;width:320px;max-width:calc(100vw - 40px);height:440px;max-height:calc(100vh - 100px);display:flex;flex-direction:column;background:#fff;border:1px solid #d0d7de;border-radius:10px;box-shadow:0 4px 16px rgba(0,0,0,.2);overflow:hidden}",
    ".panel[hidden]{display:none}",
    "header{padding:10px 12px;background:var(--sportello-accent,#1f6feb);color:#fff;display:flex;justify-content:space-between;align-items:center}",
    "header button{background:none;border:0;color:#fff;font:inherit;cursor:pointer}",
    ".log{flex:1;overflow-y:auto;padding:10px;margin:0;list-style:none}",
    ".log li{margin:4px 0;padding:6px 9px;border-radius:8px;max-width:85%;white-space:pre-wrap;word-wrap:break-word}",
    ".log .visitor{background:var(--sportello-accent,#1f6feb);color:#fff;margin-left:auto}", ".log .agent{background:#eef1f4}",
    ".log .note{background:none;color:#57606a;font-size:12px;text-align:center;max-width:100%}",
    ".log a.file{color:inherit;text-decoration:underline;cursor:pointer}",
    ".suggest{padding:6px 12px;border-top:1px solid #d0d7de;font-size:13px;max-height:40%;overflow-y:auto}",
    ".suggest p{margin:0 0 4px}", ".suggest ul{margin:0;padding:0;list-style:none}", ".suggest li{margin:4px 0}",
    ".suggest a{color:var(--sportello-accent,#1f6feb)}", ".suggest button{font:inherit;font-size:12px;margin-left:6px;padding:1px 6px;border:1px solid var(--sportello-accent,#1f6feb);border-radius:4px;background:#fff;color:var(--sportello-accent,#1f6feb);cursor:pointer}",
    ".status{font-size:12px;color:#57606a;padding:0 12px;min-height:16px}",
    "form{display:flex;flex-direction:column;gap:6px;padding:8px 10px;border-top:1px solid #d0d7de}",
    "input,textarea{font:inherit;padding:6px;border:1px solid #d0d7de;border-radius:6px}",
    "form button{font:inherit;padding:6px 10px;border:0;border-radius:6px;background:var(--sportello-accent,#1f6feb);color:#fff;cursor:pointer}",
    "[hidden]{display:none!important}",
  ].join("\n");
  // A constructed style sheet is not an inline <style>, so a page with a strict Content-Security-
  // Policy (ours, or a customer's) still styles the widget; older browsers get the element.
  var style = null, sheet = null;
  if (window.CSSStyleSheet && "adoptedStyleSheets" in shadow) {
    sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    shadow.adoptedStyleSheets = [sheet];
  } else {
    style = el("style");
    style.textContent = css;
  }
  var launcher = el("button", { class: "launcher", type: "button", part: "launcher" }, t.open);
  var panel = el("div", { class: "panel", hidden: "", role: "dialog", "aria-label": t.open });
  var header = el("header");
  var title = el("span", { class: "title" }, t.open);
  header.appendChild(title);
  var endButton = el("button", { type: "button", class: "end", hidden: "" }, t.end);
  var closeButton = el("button", { type: "button", class: "close", "aria-label": t.close }, "×");
  var buttons = el("span");
  buttons.append(endButton, closeButton);
  header.appendChild(buttons);
  var log = el("ol", { class: "log", "aria-live": "polite" });
  var status = el("div", { class: "status" });

  var composer = el("form", { class: "composer" });
  var nameInput = el("input", { name: "name", placeholder: t.name, "aria-label": t.name, autocomplete: "name" });
  var emailInput = el("input", { name: "email", type: "email", placeholder: t.email, "aria-label": t.email, autocomplete: "email" });
  var text = el("textarea", { name: "text", rows: "2", placeholder: t.placeholder, "aria-label": t.placeholder });
  var sendButton = el("button", { type: "submit" }, t.send);
  var fileInput = el("input", { type: "file", name: "file", "aria-label": t.file, hidden: "" });
  composer.append(nameInput, emailInput, text, fileInput, sendButton);

  var offline = el("form", { class: "offline", hidden: "" });
  var offName = el("input", { name: "name", placeholder: t.name, "aria-label": t.name });
  var offEmail = el("input", { name: "email", type: "email", required: "", placeholder: t.email, "aria-label": t.email });
  var offText = el("textarea", { name: "text", rows: "3", required: "", placeholder: t.placeholder, "aria-label": t.placeholder });
  offline.append(el("p", {}, t.offline), offName, offEmail, offText, el("button", { type: "submit" }, t.leave));

  var transcript = el("form", { class: "transcript", hidden: "" });
  var trEmail = el("input", { name: "email", type: "email", required: "", placeholder: t.email, "aria-label": t.email });
  transcript.append(el("p", {}, t.ended), trEmail, el("button", { type: "submit" }, t.transcript));

  // Help-centre articles that may answer the first message (or the offline one) as it is typed.
  var suggestions = el("div", { class: "suggest", hidden: "", "aria-live": "polite" });

  panel.append(header, log, suggestions, status, composer, offline, transcript);
  if (style) shadow.append(style);
  shadow.append(launcher, panel);
  (document.body || document.documentElement).appendChild(host);

  function line(kind, words, id, files) {
    if (id && log.querySelector('[data-entry="' + id + '"]')) return;
    var li = el("li", { class: kind });
    files = files || [];
    // A file's own line ("📎 name") becomes its download link; any other text stays as it is.
    if (!files.length || String(words).indexOf("📎") !== 0) li.textContent = words;
    files.forEach(function (file) {
      var link = el("a", { class: "file", href: "#", "data-attachment": file.id, title: t.download }, "📎 " + file.name);
      link.addEventListener("click", function (event) { event.preventDefault(); download(file); });
      li.appendChild(link);
    });
    if (id) li.setAttribute("data-entry", id);
    log.appendChild(li);
    log.scrollTop = log.scrollHeight;
  }
  // The token goes in the POST body, never in a URL (logs, Referer); the file comes back as a blob.
  function download(file) {
    var body = new FormData();
    body.append("token", state.token || "");
    fetch(base.origin + "/chat/files/" + encodeURIComponent(key) + "/" + file.id, { method: "POST", body: body })
      .then(function (r) {
        if (!r.ok) return r.json().then(function (data) { throw new Error(data.error || r.status); });
        return r.blob();
      })
      .then(function (blob) {
        var url = URL.createObjectURL(blob);
        var save = el("a", { href: url, download: file.name, hidden: "" });
        shadow.appendChild(save);
        save.click();
        save.remove();
        setTimeout(function () { URL.revokeObjectURL(url); }, 60000);
      })
      .catch(function (err) { line("note", t.error + ": " + err.message); });
  }
  var suggestTimer = null, suggestAsked = 0;
  function suggest(words) {
    clearTimeout(suggestTimer);
    if (state.conversation || words.trim().length < 3) { suggestions.hidden = true; return; }
    suggestTimer = setTimeout(function () {
      var asked = ++suggestAsked;
      var url = base.origin + "/chat/suggest/" + encodeURIComponent(key) + "?lang=" + lang + "&q=" + encodeURIComponent(words.trim());
      fetch(url).then(function (r) { return r.json(); }).then(function (data) {
        if (asked !== suggestAsked || state.conversation) return;  // a later answer, or the chat began
        showSuggestions(data.articles || [], words.trim());
      }).catch(function () { suggestions.hidden = true; });
    }, 300);
  }
  function showSuggestions(articles, words) {
    suggestions.textContent = "";
    suggestions.hidden = !articles.length;
    if (!articles.length) return;
    var list = el("ul");
    articles.forEach(function (article) {
      var item = el("li");
      item.appendChild(el("a", { href: article.url, target: "_blank", rel: "noopener", title: article.snippet }, article.title));
      var button = el("button", { type: "button", class: "solved" }, t.solved);
      button.addEventListener("click", function () { solved(article, words); });
      item.appendChild(button);
      list.appendChild(item);
    });
    suggestions.append(el("p", {}, t.suggested), list);
  }
  function solved(article, words) {
    var body = new FormData();
    body.append("token", state.token || "");
    body.append("article", article.id);
    body.append("method", article.method || "");
    body.append("q", words);
    body.append("lang", lang);
    fetch(base.origin + "/chat/solved/" + encodeURIComponent(key), { method: "POST", body: body })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (data.error) { line("note", t.error + ": " + data.error); return; }
        clearTimeout(suggestTimer); suggestAsked++;
        suggestions.hidden = true;
        text.value = ""; offText.value = "";
        line("note", t.glad);
      })
      .catch(function () { line("note", t.error); });
  }
  function say(message) {
    line(message.from, message.text, message.id, message.files);
    if (message.from === "agent" && !panel.hidden) send({ type: "read", entry: message.id });
  }
  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(message)); return true; }
    return false;
  }
  function showIdentity() {
    var ask = welcome ? welcome.ask : "optional";
    var need = ask !== "nothing" && !state.conversation && !(welcome && welcome.email);
    nameInput.hidden = emailInput.hidden = !need;
    nameInput.required = emailInput.required = need && ask === "required";
  }
  function showState(current) {
    state.conversation_state = current;
    fileInput.hidden = !current || current === "closed";  // files go into an open conversation
    composer.hidden = current === "closed";
    transcript.hidden = current !== "closed";
    endButton.hidden = !current || current === "closed";
    if (current === "waiting") status.textContent = t.waiting;
    else if (current !== "active") status.textContent = "";
  }

  // The help desk's branding (its name in the header, its colour for the buttons), once saved.
  function brand(b) {
    if (b.name) { title.textContent = b.name; panel.setAttribute("aria-label", t.open + " · " + b.name); }
    if (/^#[0-9a-f]{6}$/i.test(b.color || "")) host.style.setProperty("--sportello-accent", b.color);
  }

  function connect() {
    if (socket || closedForGood) return;
    var scheme = base.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + base.host + "/ws/chat/" + encodeURIComponent(key) + "/");
    socket.onopen = function () { send({ type: "hello", token: state.token || "", language: lang }); };
    socket.onclose = function (event) {
      socket = null;
      if (event.code === 4404 || event.code === 4429 || event.code === 1009) { closedForGood = true; return; }
      setTimeout(connect, 2000);
    };
    socket.onmessage = function (event) {
      var data = JSON.parse(event.data);
      if (data.type === "welcome") {
        welcome = data;
        brand(data.brand || {});
        state.token = data.token;
        state.conversation = data.conversation;
        save();
        log.textContent = "";
        if (data.greeting) line("note", data.greeting);
        data.messages.forEach(say);
        offline.hidden = !!data.conversation || data.online;
        composer.hidden = !offline.hidden;
        showIdentity();
        showState(data.state);
        if (!data.conversation && !data.online) { offName.value = data.name || ""; offEmail.value = data.email || ""; }
      } else if (data.type === "joined") {
        state.conversation = data.conversation; save();
        suggestions.hidden = true;
        showIdentity();
        showState(data.state);
      } else if (data.type === "message") {
        say(data);
        if (data.from === "agent") status.textContent = "";
      } else if (data.type === "typing") {
        status.textContent = t.agent + " " + t.typing;
        clearTimeout(status._timer);
        status._timer = setTimeout(function () { status.textContent = ""; }, 4000);
      } else if (data.type === "read") {
        log.querySelectorAll(".visitor").forEach(function (li) {
          if (+li.getAttribute("data-entry") <= data.entry) li.title = t.seen;
        });
        status.textContent = t.seen;
      } else if (data.type === "state") {
        showState(data.state);
        if (data.state === "active" && data.agent) line("note", data.agent + " " + t.joined);
        if (data.state === "closed") line("note", t.ended);
      } else if (data.type === "left") {
        state.token = data.token; save();
        offline.hidden = true;
        suggestions.hidden = true;
        line("note", t.left + " " + data.ticket);
      } else if (data.type === "transcript") {
        transcript.hidden = true;
        line("note", t.sent + " " + data.email);
      } else if (data.type === "error") {
        line("note", t.error + ": " + data.reason);
      }
    };
  }

  launcher.addEventListener("click", function () {
    panel.hidden = !panel.hidden;
    state.open = !panel.hidden; save();
    if (!panel.hidden) { connect(); text.focus(); }
  });
  closeButton.addEventListener("click", function () { panel.hidden = true; state.open = false; save(); });
  endButton.addEventListener("click", function () { send({ type: "close" }); });
  composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var words = text.value.trim();
    if (!words) return;
    if (!nameInput.hidden && (nameInput.value || emailInput.value)) {
      send({ type: "hello", token: state.token || "", name: nameInput.value, email: emailInput.value, language: lang });
    }
    if (send({ type: "message", text: words })) text.value = "";
  });
  fileInput.addEventListener("change", function () {
    if (!fileInput.files.length) return;
    var body = new FormData();
    body.append("token", state.token || "");
    body.append("file", fileInput.files[0]);
    fetch(base.origin + "/chat/upload/" + encodeURIComponent(key), { method: "POST", body: body })
      .then(function (r) { return r.json(); })
      .then(function (data) { if (data.error) line("note", t.error + ": " + data.error); })
      .catch(function () { line("note", t.error); })
      .then(function () { fileInput.value = ""; });
  });
  text.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); composer.requestSubmit(); }
  });
  text.addEventListener("input", function () {
    suggest(text.value);
    if (Date.now() - lastTyping > 2000) { lastTyping = Date.now(); send({ type: "typing" }); }
  });
  offText.addEventListener("input", function () { suggest(offText.value); });
  offline.addEventListener("submit", function (event) {
    event.preventDefault();
    send({ type: "leave_message", name: offName.value, email: offEmail.value, text: offText.value });
  });
  transcript.addEventListener("submit", function (event) {
    event.preventDefault();
    send({ type: "transcript", email: trEmail.value });
  });

  // A visitor in the middle of a conversation continues it after a reload.
  if (state.token && state.conversation) {
    if (state.open) panel.hidden = false;
    connect();
  }
})();
