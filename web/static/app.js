// Conveniences only: every page works without this script.
// A changed filter applies at once; a label button asks before it stores a verdict.
document.addEventListener("DOMContentLoaded", function () {
  var filters = document.querySelector("form.filters");
  if (filters) {
    filters.querySelectorAll("select, input[type=checkbox], input[type=date]").forEach(function (el) {
      el.addEventListener("change", function () { filters.submit(); });
    });
  }
});
