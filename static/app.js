// The portal's own script: loaded from a file, since the Content-Security-Policy allows no inline code.
"use strict";

// Enter in a search box of a form searches; it does not submit the form around it.
document.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && event.target.matches("[data-enter-searches]")) {
    event.preventDefault();
  }
});

// Ticking a user in the Sync Users list redraws the list with the new selection (hx-trigger="user-selection").
document.addEventListener("change", function (event) {
  if (event.target.name === "user_ids") {
    event.target.dispatchEvent(new CustomEvent("user-selection", {bubbles: true}));
  }
});

// The runs panel asks for itself again while a run is queued or running. When one of those requests fails (the
// server restarting, the network gone, a 5xx from the router), htmx swaps nothing and the panel would stop following the run: say so in
// the panel and through the announcer, and ask again, waiting twice as long each time up to 15 seconds.
var PANEL_RETRY_FIRST_MS = 1000;
var PANEL_RETRY_LONGEST_MS = 15000;
var panelRetryMs = PANEL_RETRY_FIRST_MS;

function panelUnreachable(event) {
  var panel = event.detail.elt;
  var status = event.detail.xhr ? event.detail.xhr.status : 0;
  if (panel.id !== "sync-runs" || (event.type === "htmx:responseError" && status < 500)) {
    return;
  }
  var region = panel.querySelector(".run-progress") || panel;
  var note = region.querySelector(".panel-unreachable");
  if (!note) {
    note = document.createElement("span");
    note.className = "panel-unreachable";
    region.appendChild(note);
  }
  note.textContent = "Cannot reach the server, trying again…";
  announce(note.textContent);
  var wait = panelRetryMs;
  panelRetryMs = Math.min(panelRetryMs * 2, PANEL_RETRY_LONGEST_MS);
  window.setTimeout(function () {
    htmx.ajax("GET", panel.getAttribute("hx-get"), {source: panel, target: panel, swap: "outerHTML"})
      .catch(function () { /* told by the htmx:sendError or htmx:responseError that follows */ });
  }, wait);
}

document.addEventListener("htmx:sendError", panelUnreachable);
document.addEventListener("htmx:responseError", panelUnreachable);
document.addEventListener("htmx:afterRequest", function (event) {
  if (event.detail.successful && event.detail.elt.id === "sync-runs") {
    panelRetryMs = PANEL_RETRY_FIRST_MS;
  }
});

// The Sync Group type-ahead as an ARIA combobox: focus stays in the input, the arrow keys move the active option
// (aria-activedescendant, which a screen reader announces), Enter chooses it, Escape closes the list.
function comboboxOptions(input) {
  var listbox = document.getElementById(input.getAttribute("aria-controls"));
  return listbox && !listbox.hidden ? Array.prototype.slice.call(listbox.querySelectorAll("[role=option]")) : [];
}

function setActiveOption(input, option) {
  comboboxOptions(input).forEach(function (each) {
    each.setAttribute("aria-selected", each === option ? "true" : "false");
  });
  if (option) {
    input.setAttribute("aria-activedescendant", option.id);
    option.scrollIntoView({block: "nearest"});
  } else {
    input.removeAttribute("aria-activedescendant");
  }
}

function openListbox(input, open) {
  var listbox = document.getElementById(input.getAttribute("aria-controls"));
  if (listbox) {
    listbox.hidden = !open;
  }
  input.setAttribute("aria-expanded", listbox && open ? "true" : "false");
  if (!open) {
    setActiveOption(input, null);
  }
}

document.addEventListener("keydown", function (event) {
  var input = event.target;
  if (!input.matches("input[role=combobox]")) {
    return;
  }
  var active = document.getElementById(input.getAttribute("aria-activedescendant") || "");
  if (event.key === "ArrowDown" || event.key === "ArrowUp") {
    event.preventDefault();
    openListbox(input, true);
    var options = comboboxOptions(input);
    var step = event.key === "ArrowDown" ? 1 : -1;
    var index = options.indexOf(active);
    var next = index < 0 ? (step > 0 ? 0 : options.length - 1) : (index + step + options.length) % options.length;
    setActiveOption(input, options[next] || null);
  } else if (event.key === "Enter" && active) {
    event.preventDefault();
    active.click();
  } else if (event.key === "Escape" && input.getAttribute("aria-expanded") === "true") {
    event.preventDefault();
    openListbox(input, false);
  }
});

document.addEventListener("htmx:afterSettle", function (event) {
  var input = document.querySelector("input[role=combobox]");
  if (input && event.detail.target.id === "group-options") {
    openListbox(input, true);
    setActiveOption(input, null);
  }
});

// One polite live region (#announcer) says what a swap brought that a screen reader would otherwise miss: the
// fragment's last [data-announce] text (a run's progress or result, settings saved, how many a search found).
function announce(text) {
  var announcer = document.getElementById("announcer");
  if (announcer && text && announcer.textContent !== text) {
    announcer.textContent = text;
  }
}

document.addEventListener("htmx:afterSettle", function (event) {
  var said = event.target.querySelectorAll ? event.target.querySelectorAll("[data-announce]") : [];
  if (said.length) {
    announce(said[said.length - 1].textContent.replace(/\s+/g, " ").trim());
  }
});

// Focus is never lost when htmx swaps out the element that had it: it moves to the swapped-in fragment's first
// invalid field, its [autofocus] element, its heading, or its first control, in that order.
var focusWasIn = null;

document.addEventListener("htmx:beforeSwap", function (event) {
  var target = event.detail.target;
  focusWasIn = target && target.contains(document.activeElement) && document.activeElement !== document.body
    ? target.id : null;
});

document.addEventListener("htmx:afterSettle", function () {
  var fresh = focusWasIn && document.getElementById(focusWasIn);
  focusWasIn = null;
  if (!fresh || (document.activeElement && document.activeElement !== document.body)) {
    return;
  }
  var next = fresh.querySelector("[aria-invalid=true], [autofocus]") || fresh.querySelector("h1, h2, h3")
    || fresh.querySelector("button, a[href], input:not([type=hidden]), select") || fresh;
  if (!next.matches("button, a[href], input, select, textarea")) {
    next.setAttribute("tabindex", "-1");
  }
  next.focus();
});

// Enter in a field of a member's edit row saves the row, as Enter in a form would (a table row cannot hold a form).
document.addEventListener("keydown", function (event) {
  if (event.key === "Enter" && event.target.matches("tr.editing input")) {
    event.preventDefault();
    event.target.closest("tr").querySelector("button.primary").click();
  }
});
