/* Accord's own script (no inline script: the Content-Security-Policy forbids it).
   Every page works without it; with it:
   - "/" focuses the header's search box; its dropdown (filled by htmx) is walked with the
     arrow keys and closed with Escape;
   - a link field of an edit form is a picker: typing asks the server for entries of the
     target directory, and choosing one writes its name and keeps its id in a hidden
     input (pick.CODE = "id:name"), so that the entry chosen is the one saved;
   - a board's cards are dragged between columns: a drop sends the card's own move form
     (the one a select and a button send without JavaScript), version and all. */
(function () {
  "use strict";

  var PICK_DELAY_MS = 200;

  function isTyping(element) {
    if (!element || !element.tagName) return false;
    var tag = element.tagName.toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || element.isContentEditable;
  }

  // The search box in the header

  function searchBox() { return document.getElementById("everywhere"); }
  function dropdown() { return document.getElementById("everywhere-results"); }

  function closeDropdown() {
    var shown = dropdown();
    if (shown) shown.replaceChildren();
  }

  function dropdownLinks() {
    var shown = dropdown();
    return shown ? Array.prototype.slice.call(shown.querySelectorAll("a")) : [];
  }

  function walkDropdown(event) {
    var links = dropdownLinks();
    var box = searchBox();
    if (!links.length) return;
    var at = links.indexOf(document.activeElement);
    if (event.key === "ArrowDown") {
      event.preventDefault();
      links[Math.min(at + 1, links.length - 1)].focus();
    } else if (event.key === "ArrowUp") {
      event.preventDefault();
      if (at <= 0) box.focus(); else links[at - 1].focus();
    }
  }

  document.addEventListener("keydown", function (event) {
    var box = searchBox();
    if (!box) return;
    var inSearch = event.target === box || dropdown().contains(event.target);
    if (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !isTyping(event.target)) {
      event.preventDefault();
      box.focus();
      box.select();
    } else if (inSearch && event.key === "Escape") {
      closeDropdown();
      box.focus();
    } else if (inSearch && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      walkDropdown(event);
    }
  });

  document.addEventListener("click", function (event) {
    var box = searchBox();
    if (box && !box.form.contains(event.target)) closeDropdown();
  });

  // Link pickers

  var pending = new WeakMap();

  function optionsOf(input) { return document.getElementById(input.id + "-options"); }

  function setUp(input) {
    if (input.getAttribute("role") === "combobox") return;
    var list = optionsOf(input);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
  }

  function lastPiece(input) {
    if (!input.dataset.multiple) return input.value.trim();
    var pieces = input.value.split(",");
    return pieces[pieces.length - 1].trim();
  }

  function showOptions(input, html) {
    var list = optionsOf(input);
    list.innerHTML = html;
    list.querySelectorAll("li").forEach(function (item, index) {
      item.id = list.id + "-" + index;
    });
    var open = list.children.length > 0;
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    input.removeAttribute("aria-activedescendant");
  }

  function hideOptions(input) { showOptions(input, ""); }

  function ask(input) {
    var wanted = lastPiece(input);
    var previous = pending.get(input);
    if (previous) previous.abort();
    if (!wanted) { hideOptions(input); return; }
    var control = new AbortController();
    pending.set(input, control);
    var url = input.dataset.picker + "?q=" + encodeURIComponent(wanted);
    fetch(url, { signal: control.signal, credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (reply) { return reply.ok ? reply.text() : ""; })
      .then(function (html) { if (document.activeElement === input) showOptions(input, html); })
      .catch(function () { /* aborted by a newer keystroke, or offline: nothing to show */ });
  }

  function hiddenPicks(input) {
    return Array.prototype.slice.call(
      input.parentNode.querySelectorAll('input[type="hidden"][name="' + input.dataset.pickName + '"]'));
  }

  function choose(input, option) {
    var name = option.dataset.name;
    if (!name) return;
    if (input.dataset.multiple) {
      var pieces = input.value.split(",").map(function (p) { return p.trim(); });
      pieces[pieces.length - 1] = name;
      input.value = pieces.filter(function (p) { return p; }).join(", ");
    } else {
      input.value = name;
      hiddenPicks(input).forEach(function (hidden) { hidden.remove(); });
    }
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = input.dataset.pickName;
    hidden.value = option.dataset.id + ":" + name;
    input.after(hidden);
    hideOptions(input);
    input.focus();
  }

  function choices(input) {
    return Array.prototype.slice.call(optionsOf(input).querySelectorAll('[role="option"]'));
  }

  function moveActive(input, step) {
    var items = choices(input);
    if (!items.length) return;
    var current = document.getElementById(input.getAttribute("aria-activedescendant") || "");
    var at = items.indexOf(current);
    var next = items[(at + step + items.length) % items.length];
    items.forEach(function (item) { item.setAttribute("aria-selected", item === next ? "true" : "false"); });
    input.setAttribute("aria-activedescendant", next.id);
    next.scrollIntoView({ block: "nearest" });
  }

  function isPicker(element) { return element && element.matches && element.matches("input[data-picker]"); }

  document.addEventListener("focusin", function (event) {
    if (isPicker(event.target)) setUp(event.target);
  });

  var timers = new WeakMap();
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!isPicker(input)) return;
    setUp(input);
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(function () { ask(input); }, PICK_DELAY_MS));
  });

  document.addEventListener("keydown", function (event) {
    var input = event.target;
    if (!isPicker(input) || optionsOf(input).hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      moveActive(input, event.key === "ArrowDown" ? 1 : -1);
    } else if (event.key === "Enter" && input.getAttribute("aria-activedescendant")) {
      event.preventDefault();
      choose(input, document.getElementById(input.getAttribute("aria-activedescendant")));
    } else if (event.key === "Escape") {
      event.preventDefault();
      hideOptions(input);
    }
  });

  // mousedown, not click: choosing must come before the input's blur closes the list
  document.addEventListener("mousedown", function (event) {
    var option = event.target.closest && event.target.closest('.options [role="option"]');
    if (!option) return;
    event.preventDefault();
    var input = document.getElementById(option.parentNode.id.replace(/-options$/, ""));
    if (input) choose(input, option);
  });

  document.addEventListener("focusout", function (event) {
    var input = event.target;
    if (isPicker(input)) setTimeout(function () { if (document.activeElement !== input) hideOptions(input); }, 0);
  });

  // The board

  function markDraggable() {
    document.querySelectorAll(".board .card").forEach(function (card) {
      if (card.querySelector("form.move")) card.setAttribute("draggable", "true");
    });
  }

  document.addEventListener("DOMContentLoaded", markDraggable);
  document.addEventListener("htmx:afterSettle", markDraggable);

  var dragged = null;

  document.addEventListener("dragstart", function (event) {
    var card = event.target.closest && event.target.closest(".board .card[draggable]");
    if (!card) return;
    dragged = card;
    card.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", card.dataset.entry);
  });

  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".column.drop-target").forEach(function (c) { c.classList.remove("drop-target"); });
  });

  function columnAt(event) {
    return dragged && event.target.closest ? event.target.closest(".board .column") : null;
  }

  document.addEventListener("dragover", function (event) {
    var column = columnAt(event);
    if (!column) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "move";
    column.classList.add("drop-target");
  });

  document.addEventListener("dragleave", function (event) {
    var column = columnAt(event);
    if (column && !column.contains(event.relatedTarget)) column.classList.remove("drop-target");
  });

  document.addEventListener("drop", function (event) {
    var column = columnAt(event);
    if (!column) return;
    event.preventDefault();
    column.classList.remove("drop-target");
    var form = dragged.querySelector("form.move");
    var select = form.querySelector("select");
    if (select.value === column.dataset.value) return;
    select.value = column.dataset.value;
    column.querySelector(".cards").appendChild(dragged);  // at once; the reply redraws the board
    form.requestSubmit();
  });
})();
