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

/** The browser's locale: the one the user reads and writes numbers in. */
export function userLocale() {
  return (navigator.languages && navigator.languages[0]) || navigator.language || "en-US";
}

/** The decimal and group separators of `locale` ("." and "," in en-US, "," and "." in de-DE). */
export function separators(locale = userLocale()) {
  const parts = new Intl.NumberFormat(locale, { useGrouping: true }).formatToParts(12345.6);
  const decimal = (parts.find((part) => part.type === "decimal") || { value: "." }).value;
  const group = (parts.find((part) => part.type === "group") || { value: "," }).value;
  return { decimal, group };
}

/** 45000, "usd", "de-DE" → "450,00": what an amount box shows, without grouping. */
export function toInputString(amount, currency, locale = userLocale()) {
  const text = toMajorString(amount, currency);
  return text.replace(".", separators(locale).decimal);
}

export class AmountError extends Error {}

/**
 * What a person typed, in their locale, → minor units. Throws AmountError with a message in
 * the user's words. "450,00" (de-DE) and "450.00" (en-US) are both 45000; "1,000" where the
 * comma could be a decimal mark or a thousands separator is refused, never guessed.
 */
export function parseAmount(text, currency, locale = userLocale()) {
  const places = decimals(currency);
  const { decimal } = separators(locale);
  const code = currency.toUpperCase();
  const example = places === 0 ? "500" : `450${decimal}${"0".repeat(places)}`;
  // Spaces, apostrophes and a currency sign or code around the number are allowed.
  const cleaned = String(text)
    .trim()
    .replace(/[\s\u00a0\u202f'’]/g, "")
    .replace(/^[^\d.,]+|[^\d.,]+$/g, "");
  // A minus sign would otherwise be trimmed off with the currency sign: "-5" is not 5.
  if (/[-\u2010-\u2015\u2212\ufe63\uff0d]/.test(String(text))) throw new AmountError("Enter an amount above zero");
  if (!cleaned) throw new AmountError(`Enter an amount in ${code}, like ${example}`);
  if (!/^\d[\d.,]*$/.test(cleaned) || /[.,]$/.test(cleaned)) {
    throw new AmountError(`Enter an amount in ${code} using digits, like ${example}`);
  }
  const [whole, fraction] = splitNumber(cleaned, { places, decimal, code, example });
  if (fraction.length > places) {
    throw new AmountError(
      places === 0
        ? `${code} has no smaller unit: enter a whole amount, like ${example}`
        : `Enter at most ${places} digits after the decimal mark, like ${example}`,
    );
  }
  const minor = BigInt(whole) * 10n ** BigInt(places) + BigInt(fraction.padEnd(places, "0") || "0");
  if (minor <= 0n) throw new AmountError("Enter an amount above zero");
  if (minor > 10n ** 15n) throw new AmountError("That amount is too large to bid");
  return Number(minor);
}

function validGroups(groups) {
  return /^\d{1,3}$/.test(groups[0]) && groups.slice(1).every((group) => /^\d{3}$/.test(group));
}

/** "1.234,56" → ["1234", "56"]; refuses what could be read two ways. */
function splitNumber(text, { places, decimal, code, example }) {
  const marks = [...new Set(text.replace(/\d/g, ""))];
  if (marks.length === 0) return [text, ""];
  const ambiguous = () =>
    new AmountError(
      `“${text}” could be read two ways. Type the amount without thousands separators, ` +
        `like ${example}`,
    );
  if (marks.length === 2) {
    // Both marks: the last one is the decimal mark, the other groups thousands.
    const last = text.match(/[.,]/g).pop();
    const at = text.lastIndexOf(last);
    const whole = text.slice(0, at);
    if (whole.includes(last) || !validGroups(whole.split(marks.find((m) => m !== last)))) {
      throw new AmountError(`Enter an amount in ${code} like ${example}`);
    }
    return [whole.replace(/[.,]/g, ""), text.slice(at + 1)];
  }
  const mark = marks[0];
  const parts = text.split(mark);
  if (parts.length > 2) {
    // The same mark twice: only thousands separators can repeat.
    if (!validGroups(parts)) throw new AmountError(`Enter an amount in ${code} like ${example}`);
    return [parts.join(""), ""];
  }
  const [whole, fraction] = parts;
  if (fraction.length === 3 && validGroups(parts)) {
    // "1,000": thousands in one reading, a decimal mark in another.
    if (places === 0) return [whole + fraction, ""];
    if (!(mark === decimal && places === 3)) throw ambiguous();
  }
  return [whole, fraction];
}
