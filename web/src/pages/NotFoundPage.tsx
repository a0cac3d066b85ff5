import { useTranslation } from "react-i18next";
import { Link } from "react-router";

import { usePageTitle } from "../app/usePageTitle";

export function NotFoundPage() {
  const { t } = useTranslation();
  usePageTitle(t("app.notFound.title"));
  return (
    <>
      <h1>{t("app.notFound.title")}</h1>
      <p>{t("app.notFound.text")}</p>
      <Link to="/">{t("app.nav.dashboard")}</Link>
    </>
  );
}
