// Small progressive enhancements; the portal works without them.
document.documentElement.classList.add("js");

document.addEventListener("keydown", (event) => {
  // Enter in a live-search box filters; it must not submit the surrounding form.
  if (event.key === "Enter" && event.target.matches("[data-no-submit]")) {
    event.preventDefault();
  }
  if (event.key === "Escape") {
    document.querySelectorAll("details.user-menu[open]").forEach((menu) => {
      menu.removeAttribute("open");
      menu.querySelector("summary").focus();
    });
  }
});

// Close the user menu when clicking elsewhere.
document.addEventListener("click", (event) => {
  document.querySelectorAll("details.user-menu[open]").forEach((menu) => {
    if (!menu.contains(event.target)) menu.removeAttribute("open");
  });
});

// After an htmx swap the element that had the focus is often gone (the link that opened a
// form, the form's own button): the focus then moves into the new content, to its first
// field in error, else its first field, else its first link or button — never back to the
// top of the page, which would send a keyboard user through the whole page again.
const FOCUS_ORDER = [
  "[aria-invalid=true]", ".has-error input, .has-error select, .has-error textarea",
  "input:not([type=hidden]):not([disabled]), select:not([disabled]), textarea:not([disabled])",
  "a[href], button:not([disabled])",
];
document.addEventListener("htmx:afterSettle", (event) => {
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return;
  const content = event.target;
  if (!(content instanceof Element) || !content.isConnected) return;
  for (const selector of FOCUS_ORDER) {
    const candidate = content.matches(selector) ? content : content.querySelector(selector);
    if (candidate && candidate.offsetParent !== null) {
      candidate.focus();
      return;
    }
  }
});
