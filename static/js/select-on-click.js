/* Select the whole value of [data-select-on-click] fields when clicked (e.g. a new key to copy). */
document.addEventListener("click", function (event) {
  var field = event.target.closest && event.target.closest("[data-select-on-click]");
  if (field) field.select();
});
