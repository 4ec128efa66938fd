// The eval page's one behaviour on top of a form that works without it: pick a suite
// file and its text fills the textarea (the server reads forms, not file uploads).
// Loaded as a file: the CSP runs no inline script.
(function () {
  "use strict";

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[type=file][data-fills]").forEach(function (input) {
      const target = document.getElementById(input.dataset.fills);
      const label = input.closest(".file-pick");
      if (target === null || label === null) return;
      label.hidden = false;
      input.addEventListener("change", function () {
        const file = input.files && input.files[0];
        if (!file) return;
        file.text().then(function (text) {
          target.value = text;
          target.focus();
        });
      });
    });
  });
})();
