/* leadsync console: the mapping editor checks a draft as the admin types.
 *
 * Part of leadsync, MIT licence (as the package). No framework, no external file.
 * Every form with data-check (the form of fields, and the TOML text) posts its draft to /mapping/check
 * about 300 ms after the last keystroke (the CSRF token in the X-CSRF-Token header, JSON asked for) and
 * shows the errors `leadsync mappings validate` would print, next to the form and next to each field.
 * The form of fields also gets its draft back as TOML: kept in its hidden `text` (what "Preview impact"
 * sends) and shown in the TOML text while that has not been edited by hand. Without this script the
 * pages work the same through the Check button. Text is only ever set with textContent, never as HTML.
 */
(function () {
  "use strict";
  var DELAY = 300;
  var box = document.querySelector(".editor");
  if (!box || !window.fetch || !window.FormData) { return; }
  var textForm = document.getElementById("mapping-text");
  var textArea = textForm ? textForm.querySelector("textarea[name=text]") : null;
  var textTouched = false;
  if (textArea) { textArea.addEventListener("input", function () { textTouched = true; }); }

  function show(form, result) {
    var area = form.querySelector("[data-errors]");
    if (area) {
      while (area.firstChild) { area.removeChild(area.firstChild); }
      var head = document.createElement("p");
      if (result.stale) {
        head.className = "error";
        head.textContent = box.getAttribute("data-msg-stale");
        area.appendChild(head);
        head = document.createElement("p");
      }
      head.className = result.ok ? "ok" : "error";
      head.textContent = box.getAttribute(result.ok ? "data-msg-valid" : "data-msg-errors");
      area.appendChild(head);
      if (!result.ok) {
        var list = document.createElement("ul");
        result.errors.forEach(function (e) {
          var item = document.createElement("li");
          var code = document.createElement("code");
          code.textContent = e.text;
          item.appendChild(code);
          list.appendChild(item);
        });
        area.appendChild(list);
      }
    }
    Array.prototype.forEach.call(form.querySelectorAll(".field-error"), function (el) {
      el.textContent = "";
    });
    Array.prototype.forEach.call(form.querySelectorAll("[aria-invalid]"), function (el) {
      el.removeAttribute("aria-invalid");
    });
    Object.keys(result.fields || {}).forEach(function (name) {
      var field = form.elements.namedItem(name);
      if (!field || !field.closest) { return; }
      field.setAttribute("aria-invalid", "true");
      var cell = field.closest("td");
      var note = cell ? cell.querySelector(".field-error") : null;
      if (note) { note.textContent = result.fields[name].join("; "); }
    });
    if (form.id === "mapping-form" && typeof result.text === "string") {
      var hidden = form.querySelector("textarea[name=text]");
      if (hidden) { hidden.value = result.text; }
      if (textArea && !textTouched) { textArea.value = result.text; }
    }
  }

  Array.prototype.forEach.call(document.querySelectorAll("form[data-check]"), function (form) {
    var timer = null;
    var sent = 0;
    function check() {
      var mine = ++sent;
      var body = new FormData(form);
      fetch(form.getAttribute("data-check"), {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json", "X-CSRF-Token": body.get("csrf") || "" }
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (result) {
        if (result && mine === sent) { show(form, result); }  // only the answer to the latest draft
      }).catch(function () { /* offline or signed out: the Check button still works */ });
    }
    function later(event) {
      if (event.target && event.target.name === "text" && form.id === "mapping-form") { return; }
      clearTimeout(timer);
      timer = setTimeout(check, DELAY);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
  });
})();
