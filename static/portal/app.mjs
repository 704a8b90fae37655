import { initAll } from "../govuk/govuk-frontend.min.js";

function csrfToken() {
  return document.body.dataset.csrfToken || "";
}

function start() {
  document.body.classList.add("govuk-frontend-supported");
  initAll();
  // htmx requests carry the CSRF token; a confirmation attribute asks before destructive actions.
  document.body.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
  document.querySelectorAll("form[data-confirm]").forEach((form) => {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) {
        event.preventDefault();
      }
    });
  });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start);
} else {
  start();
}
