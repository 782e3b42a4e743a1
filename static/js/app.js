// Small behaviours without inline scripts (so a strict Content-Security-Policy holds).
document.addEventListener("submit", function (event) {
  // Disable submit buttons after the first click: one click, one save.
  var form = event.target;
  if (form.dataset.submitted === "1") { event.preventDefault(); return; }
  form.dataset.submitted = "1";
  var buttons = form.querySelectorAll("button[type=submit]");
  // Disabled after the event so the clicked button's own value is still sent.
  setTimeout(function () { buttons.forEach(function (b) { b.disabled = true; }); }, 0);
  setTimeout(function () {
    form.dataset.submitted = "";
    buttons.forEach(function (b) { b.disabled = false; });
  }, 5000);
});
document.addEventListener("change", function (event) {
  // Filter forms submit on change of a select.
  var el = event.target;
  if (el.tagName === "SELECT" && el.form && el.form.classList.contains("auto-submit")) {
    el.form.submit();
  }
});
// Stage gate: show the date fields of the stages up to the chosen target only.
function showMilestones(form) {
  var select = form.querySelector("select[name=stage]");
  if (!select) { return; }
  var upTo = select.selectedIndex + 1;
  form.querySelectorAll(".milestone-field").forEach(function (el) {
    el.hidden = Number(el.dataset.order) > upTo;
    if (el.hidden) {
      el.querySelectorAll("input[type=text]").forEach(function (i) { i.value = ""; });
      el.querySelectorAll("input[type=checkbox]").forEach(function (i) { i.checked = false; });
    }
  });
}
document.querySelectorAll("form.advance-form").forEach(function (form) {
  showMilestones(form);
  form.addEventListener("change", function (event) {
    if (event.target.name === "stage") { showMilestones(form); }
  });
});
// Visit form: suggest existing companies as the name is typed (a new name creates one).
document.querySelectorAll("input[list=company-options]").forEach(function (input) {
  var list = document.getElementById("company-options");
  var timer = null;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      if (!input.value.trim()) { return; }
      fetch("/companies/lookup?q=" + encodeURIComponent(input.value), {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : {companies: []}; })
        .then(function (data) {
          list.replaceChildren.apply(list, data.companies.map(function (name) {
            var option = document.createElement("option");
            option.value = name;
            return option;
          }));
        })
        .catch(function () { /* offline or server error: no suggestions, typing goes on */ });
    }, 200);
  });
});
