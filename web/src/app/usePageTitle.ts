import { useEffect } from "react";
import { useTranslation } from "react-i18next";

/** The document title ("Katalog – Servanda Office"), which screen readers announce on navigation. */
export function usePageTitle(title: string | null | undefined): void {
  const { t } = useTranslation();
  useEffect(() => {
    const product = t("app.name");
    document.title = title ? `${title} – ${product}` : product;
  }, [title, t]);
}
