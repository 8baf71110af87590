// The condition and action builder of the automation settings pages (settings_views.py).
//
// The server draws the rows a rule has; this script adds and removes rows and, when a row's field
// (or operator, or action type) changes, redraws the inputs that depend on it, from the spec the
// page carries in #builder-spec. Rows post plain fields named by their index (c-3-field, a-0-type),
// which never changes once given: the server reads the rows in index order.
(function () {
  "use strict";

  const specNode = document.getElementById("builder-spec");
  const form = document.getElementById("rule-form");
  if (!specNode || !form) {
    return;
  }
  const spec = JSON.parse(specNode.textContent);
  const text = spec.strings;
  const fields = new Map(spec.fields.map((field) => [field.name, field]));
  const actions = new Map(spec.actions.map((action) => [action.type, action]));
  const announce = document.getElementById("builder-announce");

  function make(tag, attributes, children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === true) {
        node.setAttribute(name, "");
      } else if (value !== false && value !== null && value !== undefined) {
        node.setAttribute(name, String(value));
      }
    }
    for (const child of children || []) {
      node.append(child);
    }
    return node;
  }

  function hiddenLabel(forId, label) {
    return make("label", { class: "visually-hidden", for: forId }, [label]);
  }

  function select(id, name, choices, selected, extra) {
    const wanted = new Set(selected);
    const node = make("select", { id: id, name: name, ...(extra || {}) });
    for (const [value, label] of choices) {
      const option = make("option", { value: value }, [label]);
      option.selected = wanted.has(value);
      node.append(option);
    }
    return node;
  }

  function nextIndex(list) {
    let highest = -1;
    for (const row of list.querySelectorAll(".builder-row")) {
      highest = Math.max(highest, Number(row.dataset.index));
    }
    return highest + 1;
  }

  function renumber(list) {
    const rows = list.querySelectorAll(".builder-row");
    rows.forEach((row, position) => {
      for (const number of row.querySelectorAll(".row-number")) {
        number.textContent = String(position + 1);
      }
    });
    const note = form.querySelector(`[data-empty-note="${list.dataset.rows}"]`);
    if (note) {
      note.hidden = rows.length > 0;
    }
  }

  function removeButton(what, number) {
    return make("button", { type: "button", class: "small secondary", "data-remove": true }, [
      text.remove,
      make("span", { class: "visually-hidden" }, [" " + what.toLowerCase() + " ", make("span", { class: "row-number" }, [String(number)])]),
    ]);
  }

  // --- Conditions ---------------------------------------------------------------------------------

  function valueInputs(index, field, op, current) {
    const id = `c-${index}-value`;
    const name = id;
    if (spec.noValue.includes(op)) {
      return [];
    }
    const many = spec.listOps.includes(op);
    if (field.kind === "choice") {
      const extra = many ? { multiple: true, size: 4 } : {};
      return [hiddenLabel(id, text.value), select(id, name, field.choices, current, extra)];
    }
    const type = field.kind === "number" && !many ? "number" : "text";
    const input = make("input", { type: type, id: id, name: name, value: current.join(", ") });
    if (many) {
      input.placeholder = text.commas;
    }
    return [hiddenLabel(id, text.value), input];
  }

  function currentValues(row) {
    const input = row.querySelector("[data-role=value-box] input, [data-role=value-box] select");
    if (!input) {
      return [];
    }
    if (input.tagName === "SELECT") {
      return Array.from(input.selectedOptions, (option) => option.value);
    }
    return input.value ? input.value.split(",").map((part) => part.trim()) : [];
  }

  function redrawValue(row, keep) {
    const index = row.dataset.index;
    const field = fields.get(row.querySelector("[data-role=field]").value);
    const op = row.querySelector("[data-role=op]").value;
    const box = row.querySelector("[data-role=value-box]");
    box.replaceChildren(...(field ? valueInputs(index, field, op, keep ? currentValues(row) : []) : []));
  }

  function redrawOperators(row) {
    const field = fields.get(row.querySelector("[data-role=field]").value);
    const ops = row.querySelector("[data-role=op]");
    const before = ops.value;
    const choices = field.operators.map((op) => [op, spec.operators[op]]);
    const chosen = field.operators.includes(before) ? before : field.operators[0];
    ops.replaceChildren(...select("x", "x", choices, [chosen]).children);
    ops.value = chosen;
  }

  function conditionRow(index, number) {
    const field = spec.fields[0];
    const fieldId = `c-${index}-field`;
    const opId = `c-${index}-op`;
    const fieldSelect = select(
      fieldId,
      fieldId,
      spec.fields.map((f) => [f.name, f.label]),
      [field.name],
      { "data-role": "field" },
    );
    const opSelect = select(
      opId,
      opId,
      field.operators.map((op) => [op, spec.operators[op]]),
      [field.operators[0]],
      { "data-role": "op" },
    );
    const box = make("span", { class: "builder-control builder-value", "data-role": "value-box" }, valueInputs(index, field, field.operators[0], []));
    return make("fieldset", { class: "builder-row", "data-index": index }, [
      make("legend", {}, [text.condition + " ", make("span", { class: "row-number" }, [String(number)])]),
      make("div", { class: "builder-controls" }, [
        make("span", { class: "builder-control" }, [hiddenLabel(fieldId, text.field), fieldSelect]),
        make("span", { class: "builder-control" }, [hiddenLabel(opId, text.operator), opSelect]),
        box,
        removeButton(text.condition, number),
      ]),
    ]);
  }

  // --- Actions ------------------------------------------------------------------------------------

  function paramInputs(index, type) {
    const action = actions.get(type);
    if (!action) {
      return [];
    }
    return action.params.map((param) => {
      const id = `a-${index}-${param.name}`;
      const label = make("label", { for: id }, [param.label]);
      let input;
      if (param.kind === "choice") {
        input = select(id, id, param.choices, [param.choices.length ? param.choices[0][0] : ""]);
      } else if (param.kind === "textarea") {
        input = make("textarea", { id: id, name: id, rows: 3 });
      } else {
        // A signing secret is typed unseen, as the server-drawn rows have it.
        const types = { email: "email", url: "url" };
        const type = param.name === "secret" ? "password" : types[param.kind] || "text";
        input = make("input", { type: type, id: id, name: id });
        if (param.kind === "tags") {
          input.placeholder = text.commas;
        }
        if (param.name === "secret") {
          input.autocomplete = "new-password";
        }
      }
      const wide = param.kind === "textarea" ? " wide" : "";
      return make("span", { class: "builder-param" + wide }, [label, input]);
    });
  }

  function actionRow(index, number) {
    const typeId = `a-${index}-type`;
    const first = spec.actions[0].type;
    const typeSelect = select(
      typeId,
      typeId,
      spec.actions.map((action) => [action.type, action.label]),
      [first],
      { "data-role": "type" },
    );
    return make("fieldset", { class: "builder-row", "data-index": index }, [
      make("legend", {}, [text.action + " ", make("span", { class: "row-number" }, [String(number)])]),
      make("div", { class: "builder-controls" }, [
        make("span", { class: "builder-control" }, [hiddenLabel(typeId, text.action), typeSelect]),
        removeButton(text.action, number),
      ]),
      make("div", { class: "builder-params", "data-role": "params-box" }, paramInputs(index, first)),
    ]);
  }

  // --- Wiring -------------------------------------------------------------------------------------

  function say(message) {
    if (announce) {
      announce.textContent = message;
    }
  }

  function clearError(row) {
    row.classList.remove("has-errors");
    for (const node of row.querySelectorAll("[aria-invalid]")) {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("aria-describedby");
    }
  }

  for (const list of form.querySelectorAll("[data-rows]")) {
    const kind = list.dataset.rows;
    const what = kind === "condition" ? text.condition : text.action;
    const add = form.querySelector(`[data-add="${kind}"]`);
    add.hidden = false;
    add.addEventListener("click", () => {
      const number = list.querySelectorAll(".builder-row").length + 1;
      const row = kind === "condition" ? conditionRow(nextIndex(list), number) : actionRow(nextIndex(list), number);
      list.append(row);
      renumber(list);
      row.querySelector("select").focus();
      say(text.added.replace("%(what)s", what).replace("%(number)s", String(number)));
    });
    list.addEventListener("click", (event) => {
      const button = event.target.closest("[data-remove]");
      if (!button) {
        return;
      }
      const row = button.closest(".builder-row");
      const previous = row.previousElementSibling;
      row.remove();
      renumber(list);
      (previous ? previous.querySelector("select") : add).focus();
      say(text.removed.replace("%(what)s", what));
    });
    list.addEventListener("change", (event) => {
      const row = event.target.closest(".builder-row");
      const role = event.target.dataset.role;
      if (!row || !role) {
        return;
      }
      clearError(row);
      if (role === "field") {
        redrawOperators(row);
        redrawValue(row, false);
      } else if (role === "op") {
        redrawValue(row, true);
      } else if (role === "type") {
        row.querySelector("[data-role=params-box]").replaceChildren(...paramInputs(row.dataset.index, event.target.value));
      }
    });
  }

  // Enter in the dry run's ticket number runs the dry run (the form's first button saves).
  const ticket = document.getElementById("id_dry_run_ticket");
  const dryRun = document.getElementById("dry-run-button");
  if (ticket && dryRun) {
    ticket.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        dryRun.click();
      }
    });
  }
  const result = document.getElementById("dry-run-result");
  if (result) {
    result.focus();
  }
})();
