// Progressive enhancement only: every page works without this script.
"use strict";

// Markings forms: TLP:RED needs recipients, handling code H3 needs a note.
function linkRequirement(selectSelector, triggerValue, inputId) {
  document.querySelectorAll(selectSelector).forEach(function (select) {
    var input = select.form && select.form.querySelector("#" + inputId);
    if (!input) return;
    var update = function () { input.required = select.value === triggerValue; };
    select.addEventListener("change", update);
    update();
  });
}

// Uploads show their progress (large files take a while).
function uploadWithProgress(form) {
  form.addEventListener("submit", function (event) {
    if (!form.checkValidity()) return;
    event.preventDefault();
    var progress = form.querySelector("progress");
    var button = form.querySelector("button[type=submit]");
    if (progress) progress.hidden = false;
    if (button) button.disabled = true;
    var request = new XMLHttpRequest();
    request.open("POST", form.action);
    request.upload.addEventListener("progress", function (e) {
      if (progress && e.lengthComputable) progress.value = Math.round((100 * e.loaded) / e.total);
    });
    request.addEventListener("load", function () {
      if (request.status < 400 && request.responseURL) {
        window.location.assign(request.responseURL);
      } else {
        document.open();
        document.write(request.responseText);
        document.close();
      }
    });
    request.addEventListener("error", function () {
      if (button) button.disabled = false;
      if (progress) progress.hidden = true;
    });
    request.send(new FormData(form));
  });
}

document.addEventListener("DOMContentLoaded", function () {
  linkRequirement("select[data-requires-recipients]", "RED", "recipients");
  linkRequirement("select[data-requires-note]", "H3", "handling_note");
  document.querySelectorAll("form.upload-form").forEach(uploadWithProgress);
});
