import type { ReactNode } from "react";
import {
  Button as AriaButton,
  FieldError,
  Label,
  ListBox,
  ListBoxItem,
  Popover,
  Select as AriaSelect,
  SelectValue,
  Text,
  type Key,
} from "react-aria-components";

export interface SelectOption {
  id: string;
  label: string;
}

export interface SelectProps {
  label: ReactNode;
  options: SelectOption[];
  value: string | null;
  onChange: (value: string | null) => void;
  placeholder?: string;
  description?: ReactNode;
  errorMessage?: string | null;
  isDisabled?: boolean;
  isRequired?: boolean;
  className?: string;
}

/** A labelled single choice from a list (React Aria Select: listbox popover, type-ahead, keyboard). */
export function Select({
  label,
  options,
  value,
  onChange,
  placeholder,
  description,
  errorMessage,
  isDisabled,
  isRequired,
  className,
}: SelectProps) {
  return (
    <AriaSelect
      className={["ui-field", className ?? ""].filter(Boolean).join(" ")}
      selectedKey={value}
      onSelectionChange={(key: Key | null) => onChange(key === null ? null : String(key))}
      {...(placeholder ? { placeholder } : {})}
      isDisabled={isDisabled ?? false}
      isRequired={isRequired ?? false}
      isInvalid={Boolean(errorMessage)}
    >
      <Label className="ui-label">{label}</Label>
      <AriaButton className="ui-input ui-select-button">
        <SelectValue className="ui-select-value" />
        <span aria-hidden="true" className="ui-select-arrow">
          ▾
        </span>
      </AriaButton>
      {description ? (
        <Text slot="description" className="ui-description">
          {description}
        </Text>
      ) : null}
      <FieldError className="ui-field-error">{errorMessage}</FieldError>
      <Popover className="ui-popover">
        <ListBox className="ui-listbox" items={options}>
          {(item) => (
            <ListBoxItem className="ui-listbox-item" id={item.id} textValue={item.label}>
              {item.label}
            </ListBoxItem>
          )}
        </ListBox>
      </Popover>
    </AriaSelect>
  );
}
