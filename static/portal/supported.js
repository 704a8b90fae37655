// Marks the page as able to run GOV.UK Frontend's JavaScript (kept external: the CSP forbids inline scripts).
document.documentElement.classList.add("js-enabled");
document.addEventListener("DOMContentLoaded", function () {
  document.body.classList.add("js-enabled");
  if ("noModule" in HTMLScriptElement.prototype) {
    document.body.classList.add("govuk-frontend-supported");
  }
});
