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
          lang={language}
          onPress={() => setLanguage(language)}
        >
          {/* The visible code starts the accessible name ("DE – Deutsch"), so speech input finds it. */}
          {language.toUpperCase()}
          <span className="ui-visually-hidden"> – {t(`app.language.${language}`)}</span>
        </Button>
      ))}
    </div>
  );
}
