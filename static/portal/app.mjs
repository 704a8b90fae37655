import { initAll } from "../govuk/govuk-frontend.min.js";

function csrfToken() {
  return document.body.dataset.csrfToken || "";
}

let captionCount = 0;

// Wide tables scroll inside their own region instead of making the whole page scroll sideways (WCAG 1.4.10
// Reflow at 320 CSS px). The region can be focused, so keyboard users can scroll it, and is named by the caption.
function wrapTables(root) {
  const tables = root.matches && root.matches("table.govuk-table") ? [root] : root.querySelectorAll("table.govuk-table");
  tables.forEach((table) => {
    if (table.parentElement.classList.contains("portal-table-wrapper")) {
      return;
    }
    const wrapper = document.createElement("div");
    wrapper.className = "portal-table-wrapper";
    wrapper.setAttribute("role", "region");
    wrapper.tabIndex = 0;
    const caption = table.querySelector("caption");
    if (caption) {
      captionCount += 1;
      caption.id = caption.id || `portal-table-caption-${captionCount}`;
      wrapper.setAttribute("aria-labelledby", caption.id);
    } else {
      wrapper.setAttribute("aria-label", "Table");
    }
    table.parentNode.insertBefore(wrapper, table);
    wrapper.appendChild(table);
  });
}

// The run form's preview ("2 models × 3 evaluations = 6 items"), kept up to date as boxes are ticked.
function updateRunPreview(form) {
  const preview = form.querySelector("[data-run-preview]");
  if (!preview) {
    return;
  }
  const count = (kind) => form.querySelectorAll(`[data-preview-count="${kind}"] input[type="checkbox"]:checked`).length;
  const models = count("model");
  const tasks = count("evaluation");
  const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;
  preview.textContent = "";
  preview.append(`${plural(models, "model")} × ${plural(tasks, "evaluation")} = `);
  const strong = document.createElement("strong");
  strong.textContent = `${plural(models * tasks, "item")} to run`;
  preview.append(strong);
}

// A region htmx refreshes (the run page's results, polled every 2 s while the run is active) keeps the boxes the
// person ticked or cleared there: the state of each checkbox with an id is noted just before the swap and put back
// on the new content, and so is the focus when it was on an element of the region with an id.
const keptBoxes = new Map();
const keptFocus = new Map();

function noteBoxes(event) {
  const region = event.detail.target;
  if (!region || !region.matches || !region.matches("[data-keep-checked]")) {
    return;
  }
  const boxes = new Map();
  region.querySelectorAll("input[type='checkbox'][id]").forEach((box) => boxes.set(box.id, box.checked));
  keptBoxes.set(region.id, boxes);
  const focused = document.activeElement;
  if (focused && focused.id && region.contains(focused)) {
    keptFocus.set(region.id, focused.id);
  }
}

function restoreBoxes(event) {
  const region = event.detail.elt;
  if (!region || !region.matches || !region.matches("[data-keep-checked]") || !keptBoxes.has(region.id)) {
    return;
  }
  keptBoxes.get(region.id).forEach((checked, id) => {
    const box = document.getElementById(id);
    if (box && region.contains(box)) {
      box.checked = checked;
    }
  });
  keptBoxes.delete(region.id);
  const focusedId = keptFocus.get(region.id);
  keptFocus.delete(region.id);
  const focused = focusedId && document.getElementById(focusedId);
  if (focused && region.contains(focused) && document.activeElement !== focused) {
    focused.focus({ preventScroll: true });
  }
}

function start() {
  document.body.classList.add("govuk-frontend-supported");
  initAll();
  wrapTables(document);
  // Content swapped in by htmx (a run's items, a connection test) gets the same treatment.
  document.body.addEventListener("htmx:load", (event) => wrapTables(event.detail.elt));
  document.body.addEventListener("htmx:beforeSwap", noteBoxes);
  document.body.addEventListener("htmx:load", restoreBoxes);
  // htmx requests carry the CSRF token; a confirmation attribute asks before destructive actions.
  document.body.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRFToken"] = csrfToken();
  });
  document.body.addEventListener("change", (event) => {
    const form = event.target.closest && event.target.closest("form");
    if (form && event.target.matches("input[type='checkbox']")) {
      updateRunPreview(form);
    }
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
