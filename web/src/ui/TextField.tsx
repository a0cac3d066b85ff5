import type { ReactNode } from "react";
import {
  FieldError,
  Input,
  Label,
  Text,
  TextArea,
  TextField as AriaTextField,
  type TextFieldProps as AriaTextFieldProps,
} from "react-aria-components";

export interface TextFieldProps extends Omit<AriaTextFieldProps, "children"> {
  label: ReactNode;
  description?: ReactNode;
  /** An error to show (e.g. from the API's `errors[]`); marks the field invalid. */
  errorMessage?: string | null | undefined;
  placeholder?: string;
  multiline?: boolean;
  inputRef?: React.Ref<HTMLInputElement>;
}

/** A labelled text input with description and error (React Aria wires label, description, error). */
export function TextField({
  label,
  description,
  errorMessage,
  placeholder,
  multiline,
  inputRef,
  className,
  ...props
}: TextFieldProps) {
  return (
    <AriaTextField
      {...props}
      isInvalid={props.isInvalid ?? Boolean(errorMessage)}
      className={["ui-field", typeof className === "string" ? className : ""].filter(Boolean).join(" ")}
    >
      <Label className="ui-label">
        {label}
        {props.isRequired ? (
          <span className="ui-required" aria-hidden="true">
            {" "}
            *
          </span>
        ) : null}
      </Label>
      {multiline ? (
        <TextArea className="ui-input ui-textarea" placeholder={placeholder} />
      ) : (
        <Input className="ui-input" placeholder={placeholder} ref={inputRef} />
      )}
      {description ? (
        <Text slot="description" className="ui-description">
          {description}
        </Text>
      ) : null}
      <FieldError className="ui-field-error">{errorMessage}</FieldError>
    </AriaTextField>
  );
}
