import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import i18n from "./i18n";
import "./ui/theme.css";
import { App } from "./app/App";

document.documentElement.lang = i18n.language;

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
