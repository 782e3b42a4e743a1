// The import job page: follow the running job's progress, reload when it changes state.
(function () {
  var bar = document.getElementById("job-progress");
  if (!bar) { return; }
  var state = document.getElementById("job-state").dataset.state;
  function show(done, total) {
    bar.setAttribute("aria-valuenow", done);
    bar.setAttribute("aria-valuemax", total);
    // Set from the script: the page's CSP allows no style attributes.
    bar.firstElementChild.style.width = Math.max(5, Math.round(100 * done / total)) + "%";
  }
  show(Number(bar.getAttribute("aria-valuenow")), Number(bar.getAttribute("aria-valuemax")));
  function poll() {
    fetch(bar.dataset.url, {credentials: "same-origin", cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (job) {
        if (job.state !== state) { window.location.reload(); return; }
        if (job.total) { show(job.done, job.total); }
        setTimeout(poll, 700);
      })
      .catch(function () { setTimeout(poll, 2000); });
  }
  setTimeout(poll, 400);
})();
