import { useTranslation } from "react-i18next";

/** A status as a badge with its translated label (contract status, validation state, export status). */
export function StatusBadge({ kind, value }: { kind: "contract" | "validation" | "export"; value: string }) {
  const { t } = useTranslation();
  return <span className={`badge badge--${value}`}>{t(`app.labels.${kind}.${value}`, { defaultValue: value })}</span>;
}
