// Small behaviours without inline scripts (so a strict Content-Security-Policy holds).
document.addEventListener("submit", function (event) {
  // Disable submit buttons after the first click: one click, one save.
  var form = event.target;
  if (form.dataset.submitted === "1") { event.preventDefault(); return; }
  form.dataset.submitted = "1";
  setTimeout(function () { form.dataset.submitted = ""; }, 5000);
});
document.addEventListener("change", function (event) {
  // Filter forms submit on change of a select.
  var el = event.target;
  if (el.tagName === "SELECT" && el.form && el.form.classList.contains("auto-submit")) {
    el.form.submit();
  }
});
