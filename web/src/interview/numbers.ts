// German number and currency input: what a lawyer types ("10.000,00", "4500", "37,5") to the API's
// values (JSON number for `number`, decimal string with at most 2 decimals for `currency`) and back.
// Parsing is strict on purpose: an ambiguous input is rejected locally rather than saved wrong.

const GROUPED = /^\d{1,3}(\.\d{3})+(,\d*)?$/; // 10.000 or 10.000,5
const PLAIN = /^\d+(,\d*)?$/; // 10000 or 10000,50

/** The number a German input denotes, or null when it is not one ("" is null too). */
export function parseGermanNumber(input: string): number | null {
  let text = input.trim().replace(/\s|\u00a0/g, "");
  if (text.toUpperCase().endsWith("EUR")) text = text.slice(0, -3);
  if (text.endsWith("€")) text = text.slice(0, -1);
  let sign = 1;
  if (text.startsWith("-")) {
    sign = -1;
    text = text.slice(1);
  }
  if (!GROUPED.test(text) && !PLAIN.test(text)) return null;
  const normalised = text.replace(/\./g, "").replace(",", ".");
  const value = Number(normalised.endsWith(".") ? normalised.slice(0, -1) : normalised);
  return Number.isFinite(value) ? sign * value : null;
}

/** A currency input as the API's decimal string ("10000.00"), or null when it is not a valid amount. */
export function parseCurrency(input: string): string | null {
  const value = parseGermanNumber(input);
  if (value === null || value < 0) return null;
  const decimals = input.includes(",") ? (input.split(",")[1] ?? "").replace(/\D/g, "").length : 0;
  if (decimals > 2) return null;
  return value.toFixed(2);
}

const numberFormat = new Intl.NumberFormat("de-DE", { maximumFractionDigits: 6 });
const currencyFormat = new Intl.NumberFormat("de-DE", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** "1.234,5" for 1234.5. */
export function formatGermanNumber(value: unknown): string {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
  return Number.isFinite(n) ? numberFormat.format(n) : "";
}

/** "10.000,00" for "10000.00" or 10000 (the unit is shown next to the field). */
export function formatCurrencyInput(value: unknown): string {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value) : NaN;
  return Number.isFinite(n) ? currencyFormat.format(n) : "";
}

/** Whether a currency value from the API and a parsed input denote the same amount. */
export function sameAmount(a: unknown, b: unknown): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return a == b;
  return Number(a) === Number(b);
}
