// Each question control on its own: accessible name and required state, what a lawyer types
// becomes the API's value (German number/amount/date input), and the API's 422 message at the field.
import { render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { useState } from "react";
import { I18nProvider } from "react-aria-components";

import "../i18n";
import type { Question } from "./model";
import { QuestionField } from "./QuestionField";
import { QUESTIONS } from "./testing";

function question(key: string, extra: Partial<Question> = {}): Question {
  const q = QUESTIONS.find((x) => x.key === key)!;
  return { ...q, visible: true, answer: null, inactive: false, ...extra } as Question;
}

/** A field with its value held like the page does (overlay of what was typed), reporting changes. */
function Harness({ q, initial = null, error, onChange }: { q: Question; initial?: unknown; error?: string; onChange: (v: unknown) => void }) {
  const [value, setValue] = useState<unknown>(initial);
  return (
    <I18nProvider locale="de-DE">
      <QuestionField
        question={q}
        value={value}
        error={error}
        onChange={(v) => {
          setValue(v);
          onChange(v);
        }}
      />
    </I18nProvider>
  );
}

test("text: labelled, required, help text as description, typing reports each change, empty clears", async () => {
  const user = userEvent.setup();
  const changes: unknown[] = [];
  render(<Harness q={question("name")} onChange={(v) => changes.push(v)} />);
  const input = screen.getByRole("textbox", { name: /^Wie heißt der Arbeitnehmer\?/ });
  expect(input).toBeRequired();
  expect(input).toHaveAccessibleDescription("Vor- und Nachname.");
  await user.type(input, "Erika ");
  expect(changes.at(-1)).toBe("Erika ");
  await user.clear(input);
  expect(changes.at(-1)).toBeNull();
});

test("text: the API's message is shown at the field and marks it invalid", () => {
  render(<Harness q={question("name")} error="Bitte geben Sie höchstens 2000 Zeichen ein." onChange={() => {}} />);
  const input = screen.getByRole("textbox", { name: /^Wie heißt/ });
  expect(input).toHaveAttribute("aria-invalid", "true");
  expect(input).toHaveAccessibleDescription(expect.stringContaining("höchstens 2000 Zeichen"));
});

test("number: German input becomes a JSON number; a non-number is refused locally", async () => {
  const user = userEvent.setup();
  const changes: unknown[] = [];
  render(<Harness q={question("stunden")} onChange={(v) => changes.push(v)} />);
  const input = screen.getByRole("textbox", { name: /^Wie viele Wochenstunden/ });
  expect(input).toHaveAccessibleDescription(expect.stringContaining("Zulässig: 10 bis 48"));
  await user.type(input, "37,5");
  expect(changes.at(-1)).toBe(37.5);
  await user.type(input, "x");
  expect(changes.at(-1)).toBe(37.5); // nothing sent for "37,5x"
  expect(screen.getByText(/Bitte geben Sie eine Zahl ein/)).toBeInTheDocument();
  expect(input).toHaveAttribute("aria-invalid", "true");
});

test("currency: 10.000,00 is sent as the decimal string 10000.00 and formatted on leaving", async () => {
  const user = userEvent.setup();
  const changes: unknown[] = [];
  render(<Harness q={question("gehalt")} onChange={(v) => changes.push(v)} />);
  const input = screen.getByRole("textbox", { name: /^Wie hoch ist das Bruttogehalt/ });
  await user.type(input, "10.000,00");
  expect(changes.at(-1)).toBe("10000.00");
  await user.clear(input);
  await user.type(input, "4500");
  await user.tab();
  expect(changes.at(-1)).toBe("4500.00");
  expect(input).toHaveValue("4.500,00");
  await user.clear(input);
  await user.type(input, "12,345");
  expect(screen.getByText(/Bitte geben Sie einen Betrag ein/)).toBeInTheDocument();
});

test("date: typed day, month, year (de-DE segments) give YYYY-MM-DD", async () => {
  const user = userEvent.setup();
  const changes: unknown[] = [];
  render(<Harness q={question("ende")} onChange={(v) => changes.push(v)} />);
  const group = screen.getAllByRole("group", { name: /^Wann endet die Befristung/ })[0]!;
  const segments = Array.from(group.querySelectorAll<HTMLElement>('[role="spinbutton"]'));
  expect(segments.map((s) => s.getAttribute("aria-label") ?? s.textContent)).toHaveLength(3);
  await user.click(segments[0]!);
  await user.keyboard("31032027");
  expect(changes.at(-1)).toBe("2027-03-31");
  expect(screen.getByRole("button", { name: /^Kalender öffnen/ })).toBeInTheDocument();
});

test("yes_no: a radio group Ja / Nein giving booleans, with the explanation on request", async () => {
  const user = userEvent.setup();
  const changes: unknown[] = [];
  render(<Harness q={question("befristet")} onChange={(v) => changes.push(v)} />);
  const group = screen.getByRole("radiogroup", { name: /^Ist der Vertrag befristet/ });
  expect(group).toHaveAttribute("aria-required", "true");
  await user.click(screen.getByRole("radio", { name: "Ja" }));
  expect(changes.at(-1)).toBe(true);
  await user.click(screen.getByRole("radio", { name: "Nein" }));
  expect(changes.at(-1)).toBe(false);
  expect(screen.queryByText(/Schriftform/)).not.toBeVisible();
  await user.click(screen.getByRole("button", { name: "Erläuterung anzeigen" }));
  expect(screen.getByText(/Schriftform/)).toBeVisible();
});

test("single_choice: a radio group with the options' labels giving their values", async () => {
  const user = userEvent.setup();
  const changes: unknown[] = [];
  render(<Harness q={question("modell")} onChange={(v) => changes.push(v)} />);
  screen.getByRole("radiogroup", { name: /^Welches Vergütungsmodell/ });
  await user.click(screen.getByRole("radio", { name: "Stundenlohn" }));
  expect(changes.at(-1)).toBe("stunde");
});

test("multiple_choice: a checkbox group giving the list of values (none: cleared)", async () => {
  const user = userEvent.setup();
  const changes: unknown[] = [];
  render(<Harness q={question("extras")} onChange={(v) => changes.push(v)} />);
  screen.getByRole("group", { name: /^Welche Zusatzleistungen/ });
  await user.click(screen.getByRole("checkbox", { name: "Dienstwagen" }));
  await user.click(screen.getByRole("checkbox", { name: "Bahncard" }));
  expect(changes.at(-1)).toEqual(["auto", "bahn"]);
  await user.click(screen.getByRole("checkbox", { name: "Dienstwagen" }));
  await user.click(screen.getByRole("checkbox", { name: "Bahncard" }));
  expect(changes.at(-1)).toBeNull();
});

test("a saved value normalised by the server does not overwrite what is being typed", async () => {
  const user = userEvent.setup();
  const { rerender } = render(
    <I18nProvider locale="de-DE">
      <QuestionField question={question("name")} value={null} onChange={() => {}} />
    </I18nProvider>,
  );
  const input = screen.getByRole("textbox", { name: /^Wie heißt/ });
  await user.type(input, "Erika ");
  // The server trimmed the saved answer: the trailing space the user just typed stays.
  rerender(
    <I18nProvider locale="de-DE">
      <QuestionField question={question("name")} value="Erika" onChange={() => {}} />
    </I18nProvider>,
  );
  expect(input).toHaveValue("Erika ");
  // A different saved value (changed elsewhere) replaces the draft.
  rerender(
    <I18nProvider locale="de-DE">
      <QuestionField question={question("name")} value="Max" onChange={() => {}} />
    </I18nProvider>,
  );
  expect(input).toHaveValue("Max");
});
