import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

/** A spinner; `label` is what a screen reader hears (the default: "Wird geladen …"). */
export function Spinner({ label, inline = false }: { label?: string; inline?: boolean }) {
  const { t } = useTranslation();
  return (
    <span className={inline ? "ui-spinner ui-spinner--inline" : "ui-spinner"} role="status">
      <span className="ui-spinner-circle" aria-hidden="true" />
      <span className="ui-visually-hidden">{label ?? t("app.status.loading")}</span>
    </span>
  );
}

/** A polite live region for progress and outcomes ("Gespeichert", "Export läuft …"). */
export function Status({ children, className }: { children: ReactNode; className?: string }) {
  return (
    <div role="status" aria-live="polite" className={["ui-status", className ?? ""].filter(Boolean).join(" ")}>
      {children}
    </div>
  );
}
