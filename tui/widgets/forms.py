"""Form helpers shared by the model forms, the workflow editor and the wizard.

- Validators for Textual `Input`s: `IdValidator` (well-formed and not taken), `ThresholdValidator`
  (a number in [0, 1], optionally blank).
- `FormField`: a label, one control and an error line under it. Inputs inside it validate as
  you type and show the first failure; `set_error` puts a server error on the field.
- `field_for_error(error, fields)`: which field a server error concerns, from the wire field
  paths and words in its description and details.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from api.autoannotate import id_problem, threshold_problem
from api.errors import ApiError
from tui.widgets.bindings import area_keys


def scoped_bindings(scope: str, prefix: str) -> list[BindingType]:
    """Bindings for the keys of `scope` whose ids start with `prefix` (remappable by id)."""
    return [
        Binding(k.key, k.action, k.description, show=k.show, id=k.id)
        for k in area_keys()[scope]
        if k.id.startswith(prefix)
    ]


class IdValidator(Validator):
    """A well-formed id that is not in `taken()`."""

    def __init__(self, taken: Callable[[], Collection[str]] = tuple, *, what: str = "id") -> None:
        super().__init__()
        self.taken = taken
        self.what = what

    def validate(self, value: str) -> ValidationResult:
        problem = id_problem(value.strip(), self.taken(), what=self.what)
        return self.failure(problem) if problem else self.success()


class ThresholdValidator(Validator):
    """A number with 0 <= t <= 1 (blank allowed when `allow_blank`: "use the default")."""

    def __init__(self, *, allow_blank: bool = False) -> None:
        super().__init__()
        self.allow_blank = allow_blank

    def validate(self, value: str) -> ValidationResult:
        if not value.strip() and self.allow_blank:
            return self.success()
        problem = threshold_problem(value.strip())
        return self.failure(problem) if problem else self.success()


class RequiredValidator(Validator):
    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def validate(self, value: str) -> ValidationResult:
        return self.success() if value.strip() else self.failure(f"the {self.what} is required")


class FormField(Vertical):
    """A labelled control with an error line; validates its Input as you type."""

    DEFAULT_CSS = """
    FormField { height: auto; margin: 0 0 0 0; }
    FormField > Label { color: $text-muted; }
    FormField > .field-error { color: $text-error; height: auto; display: none; }
    FormField.-invalid > .field-error { display: block; }
    FormField Input { width: 1fr; }
    """

    def __init__(
        self, label: str, control: Widget, *, name: str, hint: str = "", classes: str = ""
    ) -> None:
        super().__init__(id=f"field-{name}", classes=classes)
        self.field_name = name
        self.label_text = label
        self.hint = hint
        self.control = control

    def compose(self) -> ComposeResult:
        yield Label(self.label_text + (f"  [dim]{self.hint}[/dim]" if self.hint else ""))
        yield self.control
        yield Static("", classes="field-error", markup=False)

    @property
    def error(self) -> str:
        return str(self.query_one(".field-error", Static).content) if self.is_mounted else ""

    def set_error(self, message: str | None) -> None:
        error = self.query_one(".field-error", Static)
        error.update(message or "")
        self.set_class(bool(message), "-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is not self.control:
            return
        result = event.validation_result
        self.set_error(None if result is None or result.is_valid else _first(result))

    def check(self) -> bool:
        """Validate now (e.g. before saving); shows and returns the outcome."""
        if isinstance(self.control, Input):
            result = self.control.validate(self.control.value)
            if result is not None and not result.is_valid:
                self.set_error(_first(result))
                return False
        return not self.has_class("-invalid")


def _first(result: ValidationResult) -> str:
    return (result.failure_descriptions or ["invalid"])[0]


def field_for_error(error: BaseException, fields: Mapping[str, Sequence[str]]) -> str | None:
    """The field a server error concerns: the first whose keywords occur in the error's text.

    `fields` maps a field name to words or wire paths (`"output_info.params.annotation_status"`,
    `"annotation_status"`). Matching is case-insensitive; longer keywords win over shorter.
    """
    if isinstance(error, ApiError):
        text = f"{error.description} {error.details}".lower()
    else:
        text = str(error).lower()
    best: tuple[int, str] | None = None
    for name, words in fields.items():
        for word in words:
            if word.lower() in text and (best is None or len(word) > best[0]):
                best = (len(word), name)
    return best[1] if best else None


def error_text(error: BaseException) -> str:
    """A one-line reason for a field: the server's description and details, or the message."""
    if isinstance(error, ApiError):
        text = error.description
        if error.details and error.details not in text:
            text = f"{text}: {error.details}" if text else error.details
        return f"{text} ({error.name})" if text else str(error)
    return str(error)


# -- small dialogs ----------------------------------------------------------------------------

_DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{
    width: 70; max-width: 95%; height: auto; max-height: 90%;
    border: round $accent; background: $surface; padding: 0 1;
}}
{name} .dialog-title {{ text-style: bold; margin: 0 0 1 0; }}
{name} .dialog-hint {{ color: $text-muted; }}
{name} OptionList {{ height: auto; max-height: 14; }}
"""


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: y or enter confirms, n or esc declines."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="ConfirmScreen")
    BINDINGS: ClassVar = [
        Binding("y,enter", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Static(self.message, id="confirm-message", markup=False)
            yield Static("y / enter: yes    n / esc: no", classes="dialog-hint")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class PromptScreen(ModalScreen[str | None]):
    """One line of text, validated as you type; enter accepts a valid value, esc cancels."""

    DEFAULT_CSS = _DIALOG_CSS.format(name="PromptScreen")
    BINDINGS: ClassVar = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self, title: str, *, value: str = "", validators: Sequence[Validator] = (), hint: str = ""
    ) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.validators = list(validators)
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield FormField(
                "value",
                Input(self.value, validators=self.validators, id="prompt-input"),
                name="prompt",
                hint=self.hint,
            )
            yield Static("enter: ok    esc: cancel", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.query_one(FormField).check():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class PickScreen(ModalScreen[str | None]):
    """Pick one of the options (arrows and enter); `/` filters them by what their labels
    contain (enter picks the first that matches); esc clears the filter, then cancels.
    Returns the option id."""

    DEFAULT_CSS = (
        _DIALOG_CSS.format(name="PickScreen") + "PickScreen #pick-filter { display: none; }"
    )
    BINDINGS: ClassVar = [
        Binding("escape", "cancel", "Cancel"),
        Binding("slash", "filter", "Filter"),
    ]

    def __init__(self, title: str, options: Sequence[tuple[str, str]], hint: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.options = list(options)
        self.hint = hint

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="dialog-title", markup=False)
            yield Input(placeholder="filter: part of a name", id="pick-filter")
            yield OptionList(
                *(Option(label, id=key) for key, label in self.options), id="pick-list"
            )
            yield Static(
                self.hint or "enter: pick    /: filter    esc: cancel",
                classes="dialog-hint",
                markup=False,
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        options.highlighted = 0 if self.options else None
        options.focus()

    def action_filter(self) -> None:
        box = self.query_one("#pick-filter", Input)
        box.display = True
        box.focus()

    def _shown(self, text: str) -> list[tuple[str, str]]:
        needle = text.strip().casefold()
        return [(k, label) for k, label in self.options if needle in label.casefold()]

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        options = self.query_one(OptionList)
        options.clear_options()
        shown = self._shown(event.value)
        options.add_options([Option(label, id=key) for key, label in shown])
        options.highlighted = 0 if shown else None

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        shown = self._shown(event.value)
        if shown:
            self.dismiss(shown[0][0])

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        box = self.query_one("#pick-filter", Input)
        if box.display and box.value:
            box.value = ""  # the first esc clears the filter (every option again)
            return
        self.dismiss(None)
