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
// the panel's live region, and ask again, waiting twice as long each time up to 15 seconds.
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
