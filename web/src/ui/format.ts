// German formats (de-DE) for numbers, amounts, dates and sizes, whatever the UI language:
// the documents and the lawyers' conventions are German.
const LOCALE = "de-DE";

const dateFormat = new Intl.DateTimeFormat(LOCALE, { day: "2-digit", month: "2-digit", year: "numeric" });
const dateTimeFormat = new Intl.DateTimeFormat(LOCALE, {
  day: "2-digit",
  month: "2-digit",
  year: "numeric",
  hour: "2-digit",
  minute: "2-digit",
});
const numberFormat = new Intl.NumberFormat(LOCALE);
const currencyFormat = new Intl.NumberFormat(LOCALE, { style: "currency", currency: "EUR" });

function toDate(value: Date | string | number): Date | null {
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

/** 05.03.2026 */
export function formatDate(value: Date | string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  const date = toDate(value);
  return date ? dateFormat.format(date) : "";
}

/** 05.03.2026, 14:07 */
export function formatDateTime(value: Date | string | number | null | undefined): string {
  if (value === null || value === undefined) return "";
  const date = toDate(value);
  return date ? dateTimeFormat.format(date) : "";
}

/** 1.234,5 */
export function formatNumber(value: number | null | undefined, fractionDigits?: number): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "";
  if (fractionDigits === undefined) return numberFormat.format(value);
  return new Intl.NumberFormat(LOCALE, {
    minimumFractionDigits: fractionDigits,
    maximumFractionDigits: fractionDigits,
  }).format(value);
}

/** 1.234,50 € */
export function formatCurrency(value: number | null | undefined, currency = "EUR"): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "";
  const format =
    currency === "EUR" ? currencyFormat : new Intl.NumberFormat(LOCALE, { style: "currency", currency });
  return format.format(value);
}

/** 12,3 KB (decimal units, as file managers show them) */
export function formatBytes(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return "";
  if (value < 1000) return `${numberFormat.format(value)} B`;
  const units = ["KB", "MB", "GB"];
  let size = value / 1000;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  return `${formatNumber(size, size < 10 ? 1 : 0)} ${units[unit]}`;
}

/** Parses a German number ("1.234,5") typed by a user; null when it is not one. */
export function parseGermanNumber(text: string): number | null {
  const cleaned = text.trim().replace(/\s|€/g, "").replace(/\./g, "").replace(",", ".");
  if (!/^-?\d+(\.\d+)?$/.test(cleaned)) return null;
  return Number(cleaned);
}
