// Incoming calls on every agent page, and click to dial.
//
// The phone socket (/ws/agent/phone/, phone/live.py) sends each call this agent is rung for, as it
// changes: "ringing" shows a card with the caller's file, open tickets and a link to log the call
// on a new ticket; "answered" keeps the card only for the agent who took it; "ended" and "missed"
// take it away. Texts are set with textContent: nothing from a caller is read as HTML.
//
// Phone numbers rendered by phone/_dial.html are tel: links; with data-dial (a CTI account dials
// out), a click asks the phone system to place the call instead (POST /api/v1/phone/dial).
(function () {
  "use strict";
  var box = document.getElementById("phone-popup");
  if (!box) return;
  var labels = box.dataset;
  var cards = {};

  function element(tag, text, attributes) {
    var node = document.createElement(tag);
    if (text) node.textContent = text;
    Object.keys(attributes || {}).forEach(function (name) { node.setAttribute(name, attributes[name]); });
    return node;
  }

  function render(call) {
    var card = element("section", "", { class: "phone-call", "data-call": String(call.id), "data-state": call.state });
    card.appendChild(element("h2", call.state === "answered" ? labels.answered : labels.ringing));
    var who = element("p");
    if (call.customer) {
      who.appendChild(element("strong", call.customer.name));
      who.appendChild(document.createTextNode(" · "));
    } else if (!call.number) {
      who.appendChild(element("strong", labels.unknown));
    }
    if (call.number) who.appendChild(element("span", call.shown, { class: "phone-number" }));
    card.appendChild(who);
    if (call.customer) {
      card.appendChild(element("p")).appendChild(element("a", labels.customer, { href: call.customer.url, class: "phone-customer" }));
    }
    var tickets = element("ul", "", { class: "phone-tickets" });
    if (call.tickets.length) {
      card.appendChild(element("p", labels.openTickets, { class: "muted small" }));
      card.appendChild(tickets);
      call.tickets.forEach(function (ticket) {
        tickets.appendChild(element("li")).appendChild(element("a", "#" + ticket.number + " " + ticket.subject, { href: ticket.url }));
      });
    } else {
      card.appendChild(element("p", labels.noTickets, { class: "muted small" }));
    }
    var actions = card.appendChild(element("div", "", { class: "phone-actions" }));
    actions.appendChild(element("a", labels.newTicket, { href: call.new_ticket_url, class: "phone-new-ticket" }));
    var dismiss = actions.appendChild(element("button", labels.dismiss, { type: "button", class: "link small" }));
    dismiss.addEventListener("click", function () { drop(call.id); });
    return card;
  }

  function drop(id) {
    if (cards[id]) cards[id].remove();
    delete cards[id];
    box.hidden = !Object.keys(cards).length;
  }

  function show(call) {
    var visible = call.state === "ringing" || (call.state === "answered" && call.mine);
    if (!visible) return drop(call.id);
    var card = render(call);
    if (cards[call.id]) cards[call.id].replaceWith(card); else box.prepend(card);
    cards[call.id] = card;
    box.hidden = false;
  }

  window.SportelloSocket.open(box.dataset.socket, {
    onMessage: function (data) { if (data.type === "call") show(data); },
  });

  // Click to dial through the phone system.
  function csrfToken() {
    try {
      return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || "";
    } catch (_error) {
      return "";
    }
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a.dial-link[data-dial]");
    if (!link) return;
    event.preventDefault();
    var status = link.nextElementSibling && link.nextElementSibling.classList.contains("dial-status")
      ? link.nextElementSibling : link.insertAdjacentElement("afterend", element("span", "", { class: "dial-status", role: "status" }));
    status.textContent = labels.dialling;
    fetch(link.dataset.dial, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ number: link.getAttribute("href").replace(/^tel:/, "") }),
    }).then(function (response) {
      return response.json().then(function (body) {
        status.textContent = response.ok ? labels.dialling + " " + body.number : (body.detail || labels.dialFailed);
      });
    }).catch(function () { status.textContent = labels.dialFailed; });
  });
})();
