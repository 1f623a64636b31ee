/* "Your bank asks you to confirm this payment": run Stripe's 3-D Secure check for a PaymentIntent.
   The button carries the client secret and what follows a confirmation: data-return (go to that
   URL) or data-complete-form (submit the form with that id), and data-confirmed-text. */
(function () {
  var button = document.getElementById("auth-start");
  var status = document.getElementById("auth-status");
  if (!button || !status || !window.Stripe) return;
  var stripe = Stripe(button.dataset.publishableKey);
  async function run() {
    button.disabled = true;
    var result = await stripe.confirmCardPayment(button.dataset.clientSecret);
    if (result.error) {
      status.textContent = result.error.message || "The payment was not confirmed.";
      button.disabled = false;
      return;
    }
    status.textContent = button.dataset.confirmedText || "Confirmed.";
    if (button.dataset.completeForm) {
      document.getElementById(button.dataset.completeForm).submit();
    } else {
      window.location = button.dataset.return;
    }
  }
  button.addEventListener("click", run);
  status.textContent = "Press “Confirm payment” to continue with your bank.";
})();
