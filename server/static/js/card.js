// Card entry and confirmation. Card data goes from this page straight to Stripe (or the
// local Stripe stand-in), never to our server.
//
// With real Stripe.js: a Card Element, confirmCardPayment, and Stripe.js runs 3-D Secure.
// With the stand-in (localstripe, `stand_in: true`): its Stripe.js imitation cannot confirm
// a card client-side, so the page posts what Stripe.js would send to the stand-in's
// confirm endpoint, and uses the imitation only for its 3-D Secure dialog.
import { h, uniqueId } from "./dom.js";

let stripeScript = null;

/** Load Stripe.js (or the stand-in's) once; resolves to window.Stripe. */
export function loadStripeJs(url) {
  if (!stripeScript) {
    stripeScript = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.onload = () => resolve(window.Stripe);
      script.onerror = () => {
        stripeScript = null;
        reject(new Error("The payment form could not be loaded; check your connection and reload"));
      };
      document.head.append(script);
    });
  }
  return stripeScript;
}

export function createCardEntry(stripeConfig) {
  return stripeConfig.stand_in ? new StandInCard(stripeConfig) : new ElementsCard(stripeConfig);
}

function outcomeOf(intent) {
  if (!intent) return { status: "failed", message: "The payment was not confirmed" };
  if (intent.status === "succeeded" || intent.status === "processing") {
    return { status: intent.status };
  }
  if (intent.status === "requires_action") return { status: "requires_action" };
  const error = intent.last_payment_error;
  return {
    status: "failed",
    code: error && error.code,
    message: (error && error.message) || "The payment was not completed; try again",
  };
}

function setupOutcome(result) {
  if (!result || result.error) {
    const error = (result && result.error) || {};
    return { status: "failed", code: error.code, message: error.message || "The card was not saved" };
  }
  const intent = result.setupIntent;
  if (!intent || intent.status !== "succeeded") {
    return { status: "failed", message: "The card was not saved; try again" };
  }
  return { status: "succeeded", setupIntentId: intent.id };
}

function field(label, props) {
  const id = uniqueId("card");
  const input = h("input", { id, type: "text", spellcheck: "false", ...props });
  return { input, row: h("div", { class: "field" }, h("label", { for: id, text: label }), input) };
}

/** Plain inputs posted to the stand-in, as Stripe.js would post them to Stripe. */
class StandInCard {
  constructor(config) {
    this.config = config;
  }

  mount(container) {
    // No `name` attributes: even if scripts failed, a native submit would send no card data.
    this.number = field("Card number", {
      inputmode: "numeric",
      autocomplete: "cc-number",
      placeholder: "4242 4242 4242 4242",
      maxlength: "23",
    });
    this.expiry = field("Expiry (MM/YY)", {
      inputmode: "numeric",
      autocomplete: "cc-exp",
      placeholder: "12/34",
      maxlength: "7",
    });
    this.cvc = field("CVC", {
      inputmode: "numeric",
      autocomplete: "cc-csc",
      placeholder: "123",
      maxlength: "4",
    });
    container.append(
      h(
        "div",
        { class: "card-fields" },
        this.number.row,
        h("div", { class: "pair" }, this.expiry.row, this.cvc.row),
      ),
    );
  }

  focus() {
    this.number.input.focus();
    this.number.input.select();
  }

  setDisabled(disabled) {
    for (const part of [this.number, this.expiry, this.cvc]) part.input.disabled = disabled;
  }

  /** The card from the inputs, or an error naming the field to fix. */
  read() {
    for (const part of [this.number, this.expiry, this.cvc]) part.input.removeAttribute("aria-invalid");
    const number = this.number.input.value.replace(/[\s-]/g, "");
    if (!/^\d{12,19}$/.test(number)) {
      return this.invalid(this.number, "Enter the card number (12 to 19 digits)");
    }
    const expiry = this.expiry.input.value.replace(/\s/g, "").match(/^(\d{1,2})\/(\d{2}|\d{4})$/);
    const month = expiry ? Number(expiry[1]) : 0;
    if (!expiry || month < 1 || month > 12) return this.invalid(this.expiry, "Enter the expiry as MM/YY");
    const year = expiry[2].length === 2 ? 2000 + Number(expiry[2]) : Number(expiry[2]);
    const cvc = this.cvc.input.value.trim();
    if (!/^\d{3,4}$/.test(cvc)) return this.invalid(this.cvc, "Enter the 3 or 4 digit security code");
    return { card: { number, exp_month: month, exp_year: year, cvc } };
  }

  invalid(part, message) {
    part.input.setAttribute("aria-invalid", "true");
    part.input.focus();
    return { error: message };
  }

  async confirm(info) {
    const read = this.read();
    if (read.error) return { status: "invalid", message: read.error };
    const intentId = info.client_secret.split("_secret_")[0];
    let response;
    try {
      // No Content-Type header: sent as text/plain, a "simple" request with no CORS preflight.
      response = await fetch(
        `${this.config.api_base}/v1/payment_intents/${encodeURIComponent(intentId)}/confirm`,
        {
          method: "POST",
          credentials: "omit",
          referrerPolicy: "no-referrer",
          body: JSON.stringify({
            key: info.publishable_key,
            client_secret: info.client_secret,
            payment_method_data: { type: "card", card: read.card },
          }),
        },
      );
    } catch {
      return { status: "error", message: "The payment service cannot be reached; try again" };
    }
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = body.error || {};
      return {
        status: "failed",
        code: error.code,
        message: error.message || `The payment service answered ${response.status}`,
      };
    }
    return outcomeOf(body);
  }

  /** 3-D Secure: the stand-in's Stripe.js opens its confirm/fail dialog. */
  async authenticate(info) {
    const Stripe = await loadStripeJs(this.config.js_url);
    const result = await Stripe(info.publishable_key).confirmCardPayment(info.client_secret);
    if (result.error) return { status: "failed", message: result.error.message || "Authentication failed" };
    return outcomeOf(result.paymentIntent);
  }

  /** Save the card for later (a SetupIntent): the stand-in's Stripe.js `confirmCardSetup`,
   *  which also runs its 3-D Secure dialog when the card asks for one. */
  async confirmSetup(setup) {
    const read = this.read();
    if (read.error) return { status: "invalid", message: read.error };
    let Stripe;
    try {
      Stripe = await loadStripeJs(this.config.js_url);
    } catch (error) {
      return { status: "error", message: error.message };
    }
    const result = await Stripe(setup.publishable_key).confirmCardSetup(setup.client_secret, {
      payment_method: { card: read.card },
    });
    return setupOutcome(result);
  }

  clear() {
    for (const part of [this.number, this.expiry, this.cvc]) part.input.value = "";
  }
}

/** Stripe's own Card Element; the card never enters this page's DOM. */
class ElementsCard {
  constructor(config) {
    this.config = config;
    this.ready = null;
  }

  mount(container) {
    const host = h("div", { class: "stripe-card", id: uniqueId("stripe-card") });
    const label = h("p", { class: "field-label", text: "Card" });
    container.append(label, host);
    this.ready = loadStripeJs(this.config.js_url).then((Stripe) => {
      this.stripe = Stripe(this.config.publishable_key);
      this.element = this.stripe.elements().create("card", { hidePostalCode: true });
      this.element.mount(host);
    });
  }

  focus() {
    if (this.element) this.element.focus();
  }

  setDisabled(disabled) {
    if (this.element) this.element.update({ disabled });
  }

  async confirm(info) {
    try {
      await this.ready;
    } catch (error) {
      return { status: "error", message: error.message };
    }
    const result = await this.stripe.confirmCardPayment(info.client_secret, {
      payment_method: { card: this.element },
    });
    if (result.error) {
      return { status: "failed", code: result.error.code, message: result.error.message };
    }
    return outcomeOf(result.paymentIntent);
  }

  async authenticate(info) {
    await this.ready;
    const result = await this.stripe.handleNextAction({ clientSecret: info.client_secret });
    if (result.error) return { status: "failed", message: result.error.message };
    return outcomeOf(result.paymentIntent);
  }

  /** Save the card for later (a SetupIntent); Stripe.js runs 3-D Secure if the bank asks. */
  async confirmSetup(setup) {
    try {
      await this.ready;
    } catch (error) {
      return { status: "error", message: error.message };
    }
    const result = await this.stripe.confirmCardSetup(setup.client_secret, {
      payment_method: { card: this.element },
    });
    return setupOutcome(result);
  }

  clear() {
    if (this.element) this.element.clear();
  }
}
