/* "Add a card": mount Stripe's card element and confirm the SetupIntent, then post its id.
   A static file (no inline script) so that the Content-Security-Policy allows it. */
(function () {
  var form = document.getElementById("card-form");
  if (!form || !window.Stripe) return;
  var stripe = Stripe(form.dataset.publishableKey);
  var card = stripe.elements().create("card");
  card.mount("#card-element");
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    var button = document.getElementById("card-submit");
    var errors = document.getElementById("card-errors");
    button.disabled = true; errors.textContent = "";
    var result = await stripe.confirmCardSetup(form.dataset.clientSecret, {payment_method: {card: card}});
    if (result.error) {
      errors.textContent = result.error.message || "The card could not be saved.";
      button.disabled = false;
      return;
    }
    document.getElementById("setup-intent").value = result.setupIntent.id;
    form.submit();
  });
})();
