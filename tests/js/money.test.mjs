// Unit tests of the pages' money entry (server/static/js/money.js): what a person types in
// their locale → minor units, and back. Run by tests/test_page_money_js.py (`node --test`).
import assert from "node:assert/strict";
import { test } from "node:test";
import { pathToFileURL } from "node:url";

// tests/test_page_money_js.py passes a copy named .mjs (Node versions without ES module
// detection cannot import a .js file outside a "type": "module" package).
const where = process.env.MONEY_MODULE || new URL("../../server/static/js/money.js", import.meta.url).pathname;
const { AmountError, parseAmount, separators, toInputString } = await import(pathToFileURL(where).href);

/** The AmountError message for `text`, failing when it is accepted. */
function refusal(text, currency, locale) {
  try {
    const amount = parseAmount(text, currency, locale);
    assert.fail(`"${text}" (${currency}, ${locale}) was accepted as ${amount}`);
  } catch (error) {
    if (!(error instanceof AmountError)) throw error;
    return error.message;
  }
}

test("separators follow the locale", () => {
  assert.deepEqual(separators("en-US"), { decimal: ".", group: "," });
  assert.deepEqual(separators("de-DE"), { decimal: ",", group: "." });
  assert.equal(separators("fr-FR").decimal, ",");
});

test("de-DE: a decimal comma and dots between thousands", () => {
  assert.equal(parseAmount("450,00", "eur", "de-DE"), 45_000);
  assert.equal(parseAmount("450,5", "eur", "de-DE"), 45_050);
  assert.equal(parseAmount("1.234,56", "eur", "de-DE"), 123_456);
  assert.equal(parseAmount("1.234.567,89", "eur", "de-DE"), 123_456_789);
  assert.equal(parseAmount("450,00 €", "eur", "de-DE"), 45_000);
  assert.equal(parseAmount(" 450 ", "eur", "de-DE"), 45_000);
});

test("en-US: a decimal point and commas between thousands", () => {
  assert.equal(parseAmount("450.00", "usd", "en-US"), 45_000);
  assert.equal(parseAmount("1,234.56", "usd", "en-US"), 123_456);
  assert.equal(parseAmount("$1,234,567.89", "usd", "en-US"), 123_456_789);
  assert.equal(parseAmount("USD 450", "usd", "en-US"), 45_000);
});

test("fr-FR: spaces between thousands", () => {
  assert.equal(parseAmount("1\u202f234,56", "eur", "fr-FR"), 123_456);
  assert.equal(parseAmount("1 234,56", "eur", "fr-FR"), 123_456);
});

test("a mark that could be a decimal mark or a thousands separator is refused, in the user's words", () => {
  const readTwoWays = (text, example) =>
    `“${text}” could be read two ways. Type the amount without thousands separators, like ${example}`;
  assert.equal(refusal("1,000", "usd", "en-US"), readTwoWays("1,000", "450.00"));
  assert.equal(refusal("1.000", "usd", "en-US"), readTwoWays("1.000", "450.00"));
  assert.equal(refusal("1.000", "eur", "de-DE"), readTwoWays("1.000", "450,00"));
  assert.equal(refusal("1,000", "eur", "de-DE"), readTwoWays("1,000", "450,00"));
  assert.equal(refusal("450.001", "usd", "en-US"), readTwoWays("450.001", "450.00"));
});

test("zero-decimal currencies (JPY) take whole amounts; a mark before three digits groups", () => {
  assert.equal(parseAmount("500", "jpy", "en-US"), 500);
  assert.equal(parseAmount("¥1,000", "jpy", "en-US"), 1_000);
  assert.equal(parseAmount("1.000", "jpy", "de-DE"), 1_000);
  assert.equal(parseAmount("1.234.567", "jpy", "de-DE"), 1_234_567);
  assert.equal(
    refusal("500,5", "jpy", "de-DE"),
    "JPY has no smaller unit: enter a whole amount, like 500",
  );
  assert.equal(refusal("500.50", "jpy", "en-US"), "JPY has no smaller unit: enter a whole amount, like 500");
});

test("three-decimal currencies (KWD): three digits after the locale's decimal mark are fils", () => {
  assert.equal(parseAmount("15.010", "kwd", "en-US"), 15_010);
  assert.equal(parseAmount("15,010", "kwd", "de-DE"), 15_010);
  assert.equal(parseAmount("1.234,5", "kwd", "de-DE"), 1_234_500);
  assert.equal(parseAmount("2,5", "kwd", "de-DE"), 2_500);
  // The other locale's mark before three digits could be thousands: refused.
  assert.match(refusal("15,010", "kwd", "en-US"), /could be read two ways.*like 450\.000$/);
  assert.match(refusal("15.010", "kwd", "de-DE"), /could be read two ways.*like 450,000$/);
  assert.equal(
    refusal("1,2345", "kwd", "de-DE"),
    "Enter at most 3 digits after the decimal mark, like 450,000",
  );
});

test("too many decimals are refused, not rounded", () => {
  assert.equal(refusal("450,0001", "eur", "de-DE"), "Enter at most 2 digits after the decimal mark, like 450,00");
  assert.equal(refusal("450.0001", "usd", "en-US"), "Enter at most 2 digits after the decimal mark, like 450.00");
  assert.equal(refusal("1,234.567", "usd", "en-US"), "Enter at most 2 digits after the decimal mark, like 450.00");
});

test("garbage is refused with an example", () => {
  assert.equal(refusal("", "usd", "en-US"), "Enter an amount in USD, like 450.00");
  assert.equal(refusal("   ", "eur", "de-DE"), "Enter an amount in EUR, like 450,00");
  assert.equal(refusal("lots", "usd", "en-US"), "Enter an amount in USD, like 450.00");
  assert.equal(refusal("4O0", "usd", "en-US"), "Enter an amount in USD using digits, like 450.00");
  assert.equal(refusal("450.", "usd", "en-US"), "Enter an amount in USD using digits, like 450.00");
  assert.equal(refusal(".5", "usd", "en-US"), "Enter an amount in USD using digits, like 450.00");
  assert.equal(refusal("1e5", "usd", "en-US"), "Enter an amount in USD using digits, like 450.00");
  assert.equal(refusal("1.2.3", "usd", "en-US"), "Enter an amount in USD like 450.00");
  assert.equal(refusal("1,23,456.00", "usd", "en-US"), "Enter an amount in USD like 450.00");
  assert.equal(refusal("1.234.5,00", "eur", "de-DE"), "Enter an amount in EUR like 450,00");
  assert.equal(refusal("1,234.5,6", "usd", "en-US"), "Enter an amount in USD like 450.00");
});

test("zero and negative amounts are refused, never turned positive", () => {
  for (const text of ["-5", "-450,00", "−450,00", "€ -450,00", "-$5.00", "$-5", "5-"]) {
    assert.equal(refusal(text, text.includes(",") ? "eur" : "usd", text.includes(",") ? "de-DE" : "en-US"), "Enter an amount above zero");
  }
  assert.equal(refusal("0", "usd", "en-US"), "Enter an amount above zero");
  assert.equal(refusal("0,00", "eur", "de-DE"), "Enter an amount above zero");
});

test("amounts beyond what can be counted exactly are refused", () => {
  assert.equal(parseAmount("10000000000000", "usd", "en-US"), 1_000_000_000_000_000);
  assert.equal(refusal("10000000000000.01", "usd", "en-US"), "That amount is too large to bid");
});

test("toInputString writes what the amount box shows, in the locale, without grouping", () => {
  assert.equal(toInputString(45_000, "eur", "de-DE"), "450,00");
  assert.equal(toInputString(45_000, "usd", "en-US"), "450.00");
  assert.equal(toInputString(123_456_789, "eur", "de-DE"), "1234567,89");
  assert.equal(toInputString(5, "usd", "en-US"), "0.05");
  assert.equal(toInputString(500, "jpy", "de-DE"), "500");
  assert.equal(toInputString(15_010, "kwd", "de-DE"), "15,010");
  assert.equal(toInputString(15_010, "kwd", "en-US"), "15.010");
});

test("what toInputString writes, parseAmount reads back", () => {
  for (const locale of ["en-US", "de-DE", "fr-FR", "de-CH", "ja-JP"]) {
    for (const [amount, currency] of [[45_000, "eur"], [1, "usd"], [123_456_789, "usd"], [500, "jpy"], [15_010, "kwd"], [1, "kwd"]]) {
      const text = toInputString(amount, currency, locale);
      assert.equal(parseAmount(text, currency, locale), amount, `${text} in ${locale}`);
    }
  }
});
