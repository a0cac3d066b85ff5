export { Alert, ProblemMessage, type AlertTone } from "./Alert";
export { Button, type ButtonProps, type ButtonVariant } from "./Button";
export { Dialog, type DialogProps } from "./Dialog";
export { Select, type SelectOption, type SelectProps } from "./Select";
export { Spinner, Status } from "./Status";
export { TextField, type TextFieldProps } from "./TextField";
export * from "./format";
