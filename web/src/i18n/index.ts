// German by default, English switchable (the choice is kept in localStorage).
import i18n from "i18next";
import { initReactI18next } from "react-i18next";

import de from "./de.json";
import en from "./en.json";

const stored = typeof localStorage !== "undefined" ? localStorage.getItem("servanda.lang") : null;

void i18n.use(initReactI18next).init({
  resources: { de: { translation: de }, en: { translation: en } },
  lng: stored === "en" ? "en" : "de",
  fallbackLng: "de",
  interpolation: { escapeValue: false },
});

export default i18n;
