import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import "./i18n";

function App() {
  return <main>Servanda Office</main>;
}

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
