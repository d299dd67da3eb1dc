// Confirmation dialogs. Markup: a link `<a href="/plain/confirmation/page/" data-dialog="ID">`
// and a `<dialog id="ID">` holding the real form. Without JavaScript (or without <dialog>
// support) the link leads to the plain confirmation page, which does the same thing.
(() => {
  const FOCUSABLE = [
    "a[href]", "button:not([disabled])", "input:not([disabled]):not([type=hidden])",
    "select:not([disabled])", "textarea:not([disabled])", "[tabindex]:not([tabindex='-1'])",
  ].join(",");
  const openers = new WeakMap();

  const focusables = (dialog) => Array.from(dialog.querySelectorAll(FOCUSABLE))
    .filter((el) => el.offsetParent !== null || el === document.activeElement);

  function open(dialog, opener) {
    openers.set(dialog, opener);
    dialog.showModal();
    const first = dialog.querySelector("[data-dialog-initial]") || focusables(dialog)[0];
    if (first) first.focus();
  }

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-dialog]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.dialog);
      if (!dialog || typeof dialog.showModal !== "function") return; // follow the link
      event.preventDefault();
      open(dialog, opener);
      return;
    }
    const closer = event.target.closest("[data-dialog-close]");
    if (closer) {
      closer.closest("dialog")?.close();
      return;
    }
    // A click on the backdrop (the dialog box itself, outside its content) cancels.
    if (event.target instanceof HTMLDialogElement && event.target.open) {
      const box = event.target.getBoundingClientRect();
      const inside = event.clientX >= box.left && event.clientX <= box.right
        && event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) event.target.close();
    }
  });

  // showModal() makes the page behind inert; this also keeps Tab cycling inside the dialog
  // instead of leaving for the browser's address bar.
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Tab") return;
    const dialog = document.querySelector("dialog[open]");
    if (!dialog) return;
    const items = focusables(dialog);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (!dialog.contains(document.activeElement)) {
      event.preventDefault();
      first.focus();
    } else if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  });

  // Escape closes a modal dialog natively; whichever way it closes, focus goes back to the
  // button that opened it. `close` does not bubble, hence the capture.
  document.addEventListener("close", (event) => {
    const opener = openers.get(event.target);
    if (opener && document.contains(opener)) opener.focus();
  }, true);
})();
