// The assistant's panel on the ticket page (assist/_panel.html, loaded by htmx): shows that the
// model is working, lets htmx show the panel's own error answers (4xx, 502), and puts an answer
// into the composer only when the agent clicks for it, telling the server whether it was used.
(function () {
  "use strict";

  function inPanel(element) {
    return element?.closest?.("#assist-panel");
  }

  document.body.addEventListener("htmx:beforeSwap", function (event) {
    if (inPanel(event.detail.target) && event.detail.xhr.status >= 400) {
      event.detail.shouldSwap = true; // the fragment says what went wrong in one sentence
      event.detail.isError = false;
    }
  });
  document.body.addEventListener("htmx:beforeRequest", function (event) {
    if (!inPanel(event.detail.elt)) return;
    var working = document.getElementById("assist-working");
    var result = document.getElementById("assist-result");
    if (working) working.hidden = false;
    if (result) result.replaceChildren();
  });
  document.body.addEventListener("htmx:afterRequest", function (event) {
    if (!inPanel(event.detail.elt)) return;
    var working = document.getElementById("assist-working");
    if (working) working.hidden = true;
  });

  function mark(url, accepted) {
    var token = document.querySelector("#assist-form input[name=csrfmiddlewaretoken]");
    var body = new URLSearchParams({ accepted: accepted ? "yes" : "no" });
    fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" },
    });
  }

  document.addEventListener("click", function (event) {
    var use = event.target.closest?.("[data-assist-use]");
    var discard = event.target.closest?.("[data-assist-discard]");
    if (!use && !discard) return;
    var result = document.getElementById("assist-result");
    var area = document.getElementById("reply_body");
    var answer = document.getElementById("assist-text");
    if (use) {
      if (!area || !answer) return;
      if (use.dataset.assistUse === "replace" || !area.value.trim()) {
        area.value = answer.value;
      } else {
        area.value = area.value.replace(/\s+$/, "") + "\n\n" + answer.value;
      }
      area.dispatchEvent(new Event("input", { bubbles: true }));
      area.focus();
    }
    mark((use || discard).dataset.mark, Boolean(use));
    if (result) result.replaceChildren();
  });
})();
