// The editor's few behaviours beyond htmx, loaded as a file: the CSP allows no inline script.
(function () {
  "use strict";

  // Messages float at the foot of the window, so the one about an item far down the page is in
  // view where the page lands; each can be dismissed.
  function showCloseButtons() {
    document.querySelectorAll(".flash-close").forEach(function (button) {
      button.hidden = false;
    });
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest ? event.target.closest(".flash-close") : null;
    if (!button) {
      return;
    }
    const flash = button.closest(".flash");
    if (flash) {
      flash.remove();
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      document.querySelectorAll(".flashes .flash").forEach(function (flash) {
        flash.remove();
      });
    }
  });

  // After a change the page lands on the element it was about (the server names it in the
  // address's #fragment; htmx scrolls there). That element also takes the focus, so the
  // keyboard carries on from the same place, and is marked for a moment.
  function land(anchor) {
    const id = anchor || decodeURIComponent(window.location.hash.slice(1));
    if (!id) {
      return;
    }
    const target = document.getElementById(id);
    if (!target) {
      return;
    }
    if (!target.hasAttribute("tabindex")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus({ preventScroll: true });
    target.classList.remove("landed");
    void target.offsetWidth; // restart the highlight when landing on the same element again
    target.classList.add("landed");
  }

  document.addEventListener("DOMContentLoaded", function () {
    showCloseButtons();
    land(null);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (event.target !== document.body) {
      return; // a fragment (the introduction's live preview), not a page
    }
    showCloseButtons();
    const info = event.detail && event.detail.pathInfo;
    land(info && info.anchor ? info.anchor : null);
  });
})();
