import { useTranslation } from "react-i18next";

import { LANGUAGES, setLanguage } from "../i18n";
import { Button } from "../ui/Button";

/** Deutsch / English, as two toggle buttons (aria-pressed). */
export function LanguageSwitch({ className }: { className?: string }) {
  const { t, i18n } = useTranslation();
  return (
    <div role="group" aria-label={t("app.language.label")} className={className ?? "app-lang"}>
      {LANGUAGES.map((language) => (
        <Button
          key={language}
          variant="quiet"
          aria-pressed={i18n.language === language}
          aria-label={t(`app.language.${language}`)}
          lang={language}
          onPress={() => setLanguage(language)}
        >
          {language.toUpperCase()}
        </Button>
      ))}
    </div>
  );
}
