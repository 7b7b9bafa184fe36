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
