// Saved cards ("card on file"): list, add, choose the default, remove.
//
// Adding a card: our server makes a SetupIntent (POST /api/me/cards/setup), the page
// confirms it with Stripe.js `confirmCardSetup` (card data goes from this page straight
// to Stripe, or to the local stand-in, never to our server), then asks our server to
// store what Stripe saved (POST /api/me/cards {setup_intent_id}: brand, last four digits
// and expiry only). The auction house charges the default card when the hammer falls.
//
// Reusable on any page: `mountSavedCards(root, {stripeConfig})` (what /account calls, under
// its own "Saved cards" heading), or `new SavedCards({root, stripeConfig, heading: true})`
// then `setUser(user)`.
import { api } from "./api.js";
import { createCardEntry } from "./card.js";
import { announce, h, uniqueId } from "./dom.js";

const BRANDS = { amex: "American Express", mastercard: "Mastercard", visa: "Visa", discover: "Discover", jcb: "JCB" };

export function cardLabel(card) {
  const brand = BRANDS[card.brand] || (card.brand ? card.brand : "Card");
  const month = String(card.exp_month).padStart(2, "0");
  return `${brand} ending in ${card.last4}, expires ${month}/${card.exp_year}`;
}

export async function listCards() {
  return (await api("GET", "/api/me/cards")).items;
}

export async function removeCard(cardId) {
  await api("DELETE", `/api/me/cards/${encodeURIComponent(cardId)}`);
}

export async function makeDefault(cardId) {
  return api("POST", `/api/me/cards/${encodeURIComponent(cardId)}/default`);
}

/** Save the card typed into `entry` (a card.js entry): setup, confirm at Stripe, store. */
export async function addCard(entry) {
  const setup = await api("POST", "/api/me/cards/setup");
  const outcome = await entry.confirmSetup(setup);
  if (outcome.status !== "succeeded") return outcome;
  const card = await api("POST", "/api/me/cards", { setup_intent_id: outcome.setupIntentId });
  return { status: "saved", card };
}

/** Show the signed-in user's saved cards in `root` (the account page's cards panel). */
export async function mountSavedCards(root, { stripeConfig }) {
  const cards = new SavedCards({ root, stripeConfig, heading: false });
  await cards.setUser(true);
  return cards;
}

/** The "Saved cards" section: the list with its buttons, and a form to add one. */
export class SavedCards {
  constructor({ root, stripeConfig, heading = true }) {
    this.root = root;
    this.stripeConfig = stripeConfig;
    this.user = null;
    this.cards = [];
    const headingId = uniqueId("cards-heading");
    this.list = h("ul", { class: "saved-cards", "aria-label": "Your cards" });
    this.empty = h("p", { class: "muted", text: "No card saved yet." });
    this.status = h("p", { class: "cards-status", role: "status" });
    this.error = h("p", { class: "error", role: "alert" });
    this.form = h("form", {
      class: "card-form add-card",
      novalidate: true,
      "aria-label": "Add a card",
      onsubmit: (event) => {
        event.preventDefault();
        this.add();
      },
    });
    this.entry = createCardEntry(stripeConfig);
    this.entry.mount(this.form);
    this.saveButton = h("button", { type: "submit", text: "Save card" });
    this.form.append(this.saveButton);
    const title = heading ? [h("h2", { id: headingId, text: "Saved cards" })] : [];
    root.replaceChildren(
      ...title,
      h("p", {
        class: "lede",
        text: "Your default card is charged automatically when you win a lot. Card details go to Stripe, never to this site.",
      }),
      this.list,
      this.empty,
      this.form,
      this.status,
      this.error,
    );
  }

  async setUser(user) {
    this.user = user;
    this.root.hidden = !user;
    this.cards = [];
    this.render();
    if (user) await this.refresh();
  }

  async refresh() {
    try {
      this.cards = await listCards();
      this.error.textContent = "";
    } catch (error) {
      this.error.textContent = `Your cards could not be loaded: ${error.message}`;
    }
    this.render();
  }

  render() {
    this.empty.hidden = this.cards.length > 0;
    this.list.replaceChildren(
      ...this.cards.map((card) =>
        h(
          "li",
          { "data-card-id": card.id, class: card.default ? "default" : "" },
          h("span", { text: cardLabel(card) }),
          card.default
            ? h("strong", { class: "badge", text: " Default" })
            : h("button", {
                type: "button",
                class: "link",
                text: "Make default",
                "aria-label": `Make ${cardLabel(card)} the default`,
                onclick: () => this.run(() => makeDefault(card.id), "Default card changed"),
              }),
          h("button", {
            type: "button",
            class: "link",
            text: "Remove",
            "aria-label": `Remove ${cardLabel(card)}`,
            onclick: () => this.run(() => removeCard(card.id), "Card removed"),
          }),
        ),
      ),
    );
  }

  async run(action, done) {
    this.error.textContent = "";
    try {
      await action();
      this.status.textContent = done;
      announce(done);
    } catch (error) {
      this.error.textContent = error.message;
    }
    await this.refresh();
  }

  async add() {
    this.error.textContent = "";
    this.saveButton.disabled = true;
    this.status.textContent = "Saving your card…";
    try {
      const outcome = await addCard(this.entry);
      if (outcome.status === "saved") {
        this.entry.clear();
        this.status.textContent = `Saved: ${cardLabel(outcome.card)}`;
        announce(this.status.textContent);
      } else {
        this.status.textContent = "";
        this.error.textContent = outcome.message;
      }
    } catch (error) {
      this.status.textContent = "";
      this.error.textContent = error.message;
    } finally {
      this.saveButton.disabled = false;
    }
    // The list again, keeping the reason a card was not saved (refresh clears errors).
    const problem = this.error.textContent;
    await this.refresh();
    if (problem && !this.error.textContent) this.error.textContent = problem;
  }
}
