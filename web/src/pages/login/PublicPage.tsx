import type { ReactNode } from "react";
import { useTranslation } from "react-i18next";

import { LanguageSwitch } from "../../app/LanguageSwitch";

/** The frame of the pages without a session: sign-in, invitation, password reset. */
export function PublicPage({ title, children }: { title: string; children: ReactNode }) {
  const { t } = useTranslation();
  return (
    <div className="login-page">
      <main className="card login-card" id="main">
        <div className="login-lang">
          <LanguageSwitch className="app-lang" />
        </div>
        <p className="login-brand">{t("app.name")}</p>
        <h1>{title}</h1>
        {children}
      </main>
    </div>
  );
}
