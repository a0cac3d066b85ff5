// German by default, English switchable (the choice is kept in localStorage).
// One JSON file per area and language (app, interview, export), keys prefixed by the area:
// t("app.…"), t("interview.…"), t("export.…").
import i18n from "i18next";
import { initReactI18next } from "react-i18next";

import deApp from "./de/app.json";
import deExport from "./de/export.json";
import deInterview from "./de/interview.json";
import enApp from "./en/app.json";
import enExport from "./en/export.json";
import enInterview from "./en/interview.json";

export const LANGUAGES = ["de", "en"] as const;
export type Language = (typeof LANGUAGES)[number];
const STORAGE_KEY = "servanda.lang";
const stored = typeof localStorage !== "undefined" ? localStorage.getItem(STORAGE_KEY) : null;

void i18n.use(initReactI18next).init({
  resources: {
    de: { translation: { app: deApp, interview: deInterview, export: deExport } },
    en: { translation: { app: enApp, interview: enInterview, export: enExport } },
  },
  lng: stored === "en" ? "en" : "de",
  fallbackLng: "de",
  interpolation: { escapeValue: false },
});

export function setLanguage(language: Language): void {
  localStorage.setItem(STORAGE_KEY, language);
  document.documentElement.lang = language;
  void i18n.changeLanguage(language);
}

export default i18n;
