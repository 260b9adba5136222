// Money is an integer count of the currency's minor unit, as Stripe counts it.
// Conversions here are string arithmetic, never floating point.

let zeroDecimal = new Set(["jpy", "krw"]);
let threeDecimal = new Set(["bhd", "jod", "kwd", "omr", "tnd"]);

/** Use the server's own currency tables (from /api/demo/config). */
export function configureCurrencies({ zero_decimal, three_decimal }) {
  zeroDecimal = new Set(zero_decimal);
  threeDecimal = new Set(three_decimal);
}

export function decimals(currency) {
  if (zeroDecimal.has(currency)) return 0;
  if (threeDecimal.has(currency)) return 3;
  return 2;
}

/** 12345, "usd" → "123.45"; 500, "jpy" → "500"; 15010, "kwd" → "15.010". */
export function toMajorString(amount, currency) {
  const places = decimals(currency);
  const digits = String(Math.abs(amount)).padStart(places + 1, "0");
  const sign = amount < 0 ? "-" : "";
  if (places === 0) return sign + digits;
  return `${sign}${digits.slice(0, -places)}.${digits.slice(-places)}`;
}

const formatters = new Map();

/** Localized text with the currency's own number of digits: "$123.45", "¥500", "KWD 15.010". */
export function formatMoney(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  let formatter = formatters.get(currency);
  if (!formatter) {
    const places = decimals(currency);
    formatter = new Intl.NumberFormat(undefined, {
      style: "currency",
      currency: currency.toUpperCase(),
      minimumFractionDigits: places,
      maximumFractionDigits: places,
    });
    formatters.set(currency, formatter);
  }
  // A decimal string is formatted exactly (Intl.NumberFormat v3), with no float rounding.
  return formatter.format(toMajorString(amount, currency));
}

/**
 * "55", "55.5" or "1,055.50" in major units → minor units (5500...).
 * Throws an Error whose message can be shown to the user.
 */
export function parseMoney(text, currency) {
  const places = decimals(currency);
  const cleaned = String(text).trim().replace(/[\s,]/g, "");
  const example = places === 0 ? "500" : `55.${"0".repeat(places)}`;
  const pattern = places === 0 ? /^\d+$/ : new RegExp(`^\\d+(\\.\\d{0,${places}})?$`);
  if (!pattern.test(cleaned)) {
    throw new Error(
      places === 0
        ? `Enter a whole amount in ${currency.toUpperCase()}, like ${example}`
        : `Enter an amount in ${currency.toUpperCase()} with at most ${places} decimals, like ${example}`,
    );
  }
  const [whole, fraction = ""] = cleaned.split(".");
  const minor = BigInt(whole) * 10n ** BigInt(places) + BigInt(fraction.padEnd(places, "0") || "0");
  if (minor <= 0n) throw new Error("Enter an amount above zero");
  if (minor > 10n ** 15n) throw new Error("That amount is too large");
  return Number(minor);
}
