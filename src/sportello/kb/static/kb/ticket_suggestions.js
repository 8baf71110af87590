// "Insert link" on a suggested article of the ticket page: puts "Title: link" into the reply at the
// cursor. The suggestions arrive by htmx after the page loaded, so one listener on the document
// serves every button (no inline handlers: the Content-Security-Policy allows none).
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.kb-insert");
    var reply = document.getElementById("reply_body");
    if (!button || !reply) return;
    var text = button.dataset.title + ": " + button.dataset.link;
    reply.setRangeText(text, reply.selectionStart, reply.selectionEnd, "end");
    reply.focus();
  });
})();
