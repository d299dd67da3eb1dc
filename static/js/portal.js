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
