// Slot choices: optional clauses (in or out) and alternatives (exactly one), with every candidate's
// text as the document would read it now (slots[].options[].text from the API), so the lawyer reads
// before choosing. Slots the answers decide (not editable) are shown with their state, not as controls.
import { useTranslation } from "react-i18next";
import { Button, Checkbox, Label, Radio, RadioGroup, Text } from "react-aria-components";

import { sectionTitle, type OutlineEntry, type Slot } from "./model";

export interface SlotChoicesProps {
  slots: Slot[];
  outline: OutlineEntry[];
  /** Unsaved choices (slot id → clause id or null). */
  pending: Readonly<Record<string, string | null>>;
  errors: Readonly<Record<string, string>>;
  readOnly?: boolean;
  onChoose: (slotId: string, clauseId: string | null) => void;
  onFocusClause?: (clauseId: string | null, sectionId: string) => void;
}

function ClauseText({ text, id }: { text: string; id?: string }) {
  return (
    <div className="iv-clause-text" id={id}>
      {text.split(/\n\s*\n/).map((paragraph, i) => (
        <p key={i}>{paragraph}</p>
      ))}
    </div>
  );
}

function chosenOf(slot: Slot, pending: SlotChoicesProps["pending"]): string | null {
  if (slot.slotId in pending) {
    const value = pending[slot.slotId] ?? null;
    return value === null && slot.type === "alternative" ? (slot.answersClauseId ?? slot.options[0]?.clauseId ?? null) : value;
  }
  return slot.clauseId;
}

function SlotNote({ slot, onChoose, readOnly }: { slot: Slot; onChoose: SlotChoicesProps["onChoose"]; readOnly: boolean }) {
  const { t } = useTranslation();
  if (slot.overridden && slot.answersClauseId) {
    const suggested = slot.options.find((o) => o.clauseId === slot.answersClauseId)?.title ?? "";
    return (
      <div className="iv-slot-note iv-slot-note--override">
        <p>{t("interview.slots.overridden", { clause: suggested })}</p>
        {readOnly ? null : (
          <Button className="ui-button ui-button--quiet" onPress={() => onChoose(slot.slotId, null)}>
            {t("interview.slots.backToAnswers")}
          </Button>
        )}
      </div>
    );
  }
  if (slot.source === "answers") return <p className="iv-slot-note">{t("interview.slots.byAnswers")}</p>;
  return null;
}

function AlternativeSlot({ slot, pending, errors, readOnly, onChoose, onFocusClause }: { slot: Slot } & Omit<SlotChoicesProps, "slots" | "outline">) {
  const { t } = useTranslation();
  const chosen = chosenOf(slot, pending);
  const error = errors[`selectedSlots.${slot.slotId}`];
  const heading = slot.options[0]?.heading ?? slot.slotId;
  return (
    <RadioGroup
      className="iv-slot"
      value={chosen}
      onChange={(clauseId) => {
        onChoose(slot.slotId, clauseId);
        onFocusClause?.(clauseId, slot.sectionId);
      }}
      isReadOnly={readOnly || !slot.editable}
      isInvalid={Boolean(error)}
      validationBehavior="aria"
    >
      <Label className="iv-slot-label">{t("interview.slots.alternativeLabel", { heading })}</Label>
      <Text slot="description" className="iv-help">
        {t("interview.slots.alternativeHelp")}
      </Text>
      <SlotNote slot={slot} onChoose={onChoose} readOnly={Boolean(readOnly)} />
      <div className="iv-slot-options">
        {slot.options.map((option) => {
          const textId = `klausel-${slot.slotId}-${option.clauseId}`;
          return (
            <div key={option.clauseId} className={`iv-slot-card${chosen === option.clauseId ? " iv-slot-card--chosen" : ""}`}>
              <Radio value={option.clauseId} className="iv-option" aria-describedby={textId}>
                <span className="iv-option-mark" aria-hidden="true" />
                <span className="iv-slot-title">{option.title}</span>
              </Radio>
              <ClauseText text={option.text} id={textId} />
            </div>
          );
        })}
      </div>
      {error ? <p className="iv-error">{error}</p> : null}
    </RadioGroup>
  );
}

function OptionalSlot({ slot, pending, errors, readOnly, onChoose, onFocusClause }: { slot: Slot } & Omit<SlotChoicesProps, "slots" | "outline">) {
  const { t } = useTranslation();
  const option = slot.options[0];
  if (!option) return null;
  const included = chosenOf(slot, pending) === option.clauseId;
  const error = errors[`selectedSlots.${slot.slotId}`];
  const textId = `klausel-${slot.slotId}-${option.clauseId}`;
  return (
    <div className={`iv-slot iv-slot-card${included ? " iv-slot-card--chosen" : ""}`}>
      {slot.editable && !readOnly ? (
        <Checkbox
          className="iv-option iv-option--check"
          isSelected={included}
          onChange={(selected) => {
            onChoose(slot.slotId, selected ? option.clauseId : null);
            onFocusClause?.(selected ? option.clauseId : null, slot.sectionId);
          }}
          aria-describedby={textId}
        >
          <span className="iv-option-mark" aria-hidden="true" />
          <span className="iv-slot-title">{t("interview.slots.include", { clause: option.title })}</span>
        </Checkbox>
      ) : (
        <p className="iv-slot-title">
          {option.title}{" "}
          <span className={`iv-badge ${included ? "iv-badge--in" : "iv-badge--out"}`}>
            {included ? t("interview.slots.included") : t("interview.slots.excluded")}
          </span>
        </p>
      )}
      {!slot.editable ? <p className="iv-slot-note">{t("interview.slots.decidedByAnswers")}</p> : null}
      <ClauseText text={option.text} id={textId} />
      {error ? <p className="iv-error">{error}</p> : null}
    </div>
  );
}

export function SlotChoices({ slots, outline, ...rest }: SlotChoicesProps) {
  const { t } = useTranslation();
  const choosable = slots.filter((s) => s.type !== "required");
  if (choosable.length === 0) return <p className="iv-muted">{t("interview.slots.none")}</p>;
  const sections: Array<{ id: string; slots: Slot[] }> = [];
  for (const slot of choosable) {
    const last = sections[sections.length - 1];
    if (last && last.id === slot.sectionId) last.slots.push(slot);
    else sections.push({ id: slot.sectionId, slots: [slot] });
  }
  return (
    <div className="iv-slots">
      {sections.map((section) => (
        <section key={section.id} className="iv-slot-section" aria-labelledby={`slots-${section.id}`}>
          <h3 id={`slots-${section.id}`} className="iv-subheading">
            {sectionTitle(section.id, outline)}
          </h3>
          {section.slots.map((slot) =>
            slot.type === "alternative" ? (
              <AlternativeSlot key={slot.slotId} slot={slot} {...rest} />
            ) : (
              <OptionalSlot key={slot.slotId} slot={slot} {...rest} />
            ),
          )}
        </section>
      ))}
    </div>
  );
}
