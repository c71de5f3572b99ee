"""The golden task: what the customer asks, what the world holds, which tools exist, what is right.

These are boundary types: they are read from human-written YAML (see ``baton.fixtures``) and
validated strictly (``extra="forbid"``), so a typo in a fixture is an error that names its field,
never a silently ignored key.

On disk a golden set is a directory of domains::

    fixtures/<domain>/domain.yaml      routes, tools, seed world, (optional) policy summary
    fixtures/<domain>/docs/*.md        knowledge documents, YAML front matter with a stable id
    fixtures/<domain>/tasks/*.yaml     one task per file

A loaded :class:`GoldenTask` is self-contained: it carries its domain's routes, documents and
tool definitions, and its initial world (the domain's seed merged with the task's own records).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, StringConstraints, Tag, ValidationInfo,
                      field_validator, model_validator)

TASK_ID_PATTERN = r"^[a-z0-9][a-z0-9_\-]*/[a-z0-9][a-z0-9_\-]*$"

JSONValue = Any
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_\-]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# --------------------------------------------------------------------------- knowledge documents


class Document(_Strict):
    """One knowledge document of a domain: the corpus a retriever searches."""

    id: Slug
    title: str
    text: str = Field(description="Markdown body, without front matter.")
    path: str | None = Field(default=None, description="Source file, for error messages and links.")


# --------------------------------------------------------------------------- routes


class Route(_Strict):
    """An intent label the router chooses from, with a description it can read."""

    label: Slug
    description: str


# --------------------------------------------------------------------------- tools and their effects


class Check(_Strict):
    """A precondition a tool checks before it acts. A failed check is a tool error.

    Exactly one comparison is set. ``field`` names a field of the target record; ``param`` names a
    call argument. The error message is a ``str.format`` template over the call's arguments
    (``{invoice_id}``), the target record's fields (``{record[status]}``) and ``{today}``.
    """

    field: str | None = Field(default=None, description="Field of the target record; a dotted path "
                                                        "('shipping.status') reads a nested field.")
    param: str | None = None
    expr: str | None = Field(default=None, description="An expression (see baton.expr) that must be "
                                                       "true; needs no comparison.")
    equals: JSONValue | None = None
    in_: list[JSONValue] | None = Field(default=None, alias="in")
    not_in: list[JSONValue] | None = None
    lte_field: str | None = Field(default=None, description="param <= target record's field")
    gt: float | None = None
    error: str

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _one_subject_one_comparison(self) -> Check:
        comparisons = [self.equals is not None, self.in_ is not None, self.not_in is not None,
                       self.lte_field is not None, self.gt is not None]
        if self.expr is not None:
            if self.field is not None or self.param is not None or any(comparisons):
                raise ValueError("'expr' is a whole check: set no 'field', 'param' or comparison with it")
            return self
        if (self.field is None) == (self.param is None):
            raise ValueError("set exactly one of 'field', 'param' or 'expr'")
        if sum(comparisons) != 1:
            raise ValueError("set exactly one of 'equals', 'in', 'not_in', 'lte_field', 'gt'")
        if self.lte_field is not None and self.param is None:
            raise ValueError("'lte_field' compares a 'param' with a record field")
        return self


class CreateSpec(_Strict):
    """A record a tool adds to a collection, e.g. a refund or a return authorisation."""

    collection: str
    id: str = Field(description="Template for the new record's id, e.g. 'RF-{invoice_id}-{seq}'. "
                                "{seq} is 1 + the number of records already in the collection.")
    fields: dict[str, JSONValue] = Field(default_factory=dict)


IdMatching = Literal["lenient", "exact"]


class Load(_Strict):
    """Another record an effect reads, bound to a name its checks and values can use."""

    collection: str
    key: str | None = Field(default=None, description="Argument that holds the record id.")
    id: str | None = Field(default=None, description="Expression that computes the record id, "
                                                     "e.g. 'record.user_id'.")
    ids: IdMatching = "lenient"
    optional: bool = Field(default=False, description="A missing record binds null instead of "
                                                      "failing the call.")

    @model_validator(mode="after")
    def _one_id(self) -> Load:
        if (self.key is None) == (self.id is None):
            raise ValueError("set exactly one of 'key' (an argument) or 'id' (an expression)")
        return self


class ItemUpdate(_Strict):
    """Rewrite the items of a list field that satisfy ``where`` (``item`` names each item)."""

    list: str = Field(description="Dotted path of the list field in the target record.")
    where: str = Field(description="Expression over 'item', e.g. 'item.item_id in item_ids'.")
    set: dict[str, JSONValue] = Field(min_length=1, description="item field path -> value")
    error: str | None = Field(default=None, description="Tool error when no item matches; "
                                                        "default: matching nothing is fine.")


class Effect(_Strict):
    """What a tool does to the world. Declarative, so a task file is the whole story.

    ``op``:
      * ``get``: return the record of ``collection`` whose id is the argument ``key``.
      * ``find``: return the records of ``collection`` whose fields equal the arguments named in
        ``match`` (case-insensitive for strings; dotted paths match nested fields); arguments
        left out are not filtered on.
      * ``update``: check ``require`` against the target record, then ``set`` its fields,
        ``append``/``extend`` its lists, rewrite list items (``update_where``) and optionally
        ``create`` a related record.
      * ``create``: check ``require`` (the target, if ``key`` or ``id`` is given, must exist),
        then add the ``create`` record.

    The target is named by the argument ``key`` or by the expression ``id``; ``ids: exact`` turns
    off lenient id matching ('#W1' then never finds 'W1'). ``load`` binds other records by name.
    Values in ``set``, ``append``, ``extend``, ``create.fields`` and ``returns`` are literals, or
    strings with substitutions: ``$name`` is the whole argument ``name`` (keeping its type),
    ``$today`` the world's date, ``$record.FIELD`` a field of the target record (dotted paths
    reach nested fields; ``$record.id`` is the id the call matched, whatever form the caller typed
    it in), ``$created.id`` the new record's id, ``$NAME.FIELD`` a loaded or earlier bound record;
    ``{name}`` inside a longer string formats arguments into it; ``{$calc: EXPR}`` computes a
    value (see :mod:`baton.expr`). A ``create.id`` template without ``{seq}`` makes the new record
    unique: creating it a second time is a tool error.
    """

    op: Literal["get", "find", "update", "create"]
    collection: str
    key: str | None = Field(default=None, description="Argument that holds the target record id.")
    id: str | None = Field(default=None, description="Expression that computes the target record id.")
    ids: IdMatching = Field(default="lenient", description="'exact': the id must match as typed.")
    as_: str | None = Field(default=None, alias="as", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
                            description="Name that later effects of the call use for the target "
                                        "(or created) record.")
    load: dict[str, Load] = Field(default_factory=dict, description="name -> another record to read")
    match: dict[str, str] = Field(default_factory=dict, description="record field -> argument")
    require: list[Check] = Field(default_factory=list)
    set: dict[str, JSONValue] = Field(default_factory=dict)
    append: dict[str, JSONValue] = Field(default_factory=dict, description="list field -> one item")
    extend: dict[str, JSONValue] = Field(default_factory=dict, description="list field -> items")
    update_where: list[ItemUpdate] = Field(default_factory=list)
    create: CreateSpec | None = None
    returns: dict[str, JSONValue] | None = Field(
        default=None, description="Result template; default: the target or created record.")

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @model_validator(mode="after")
    def _consistent(self) -> Effect:
        if self.key is not None and self.id is not None:
            raise ValueError("set at most one of 'key' (an argument) or 'id' (an expression)")
        targeted = self.key is not None or self.id is not None
        if self.op in ("get", "update") and not targeted:
            raise ValueError(f"op '{self.op}' needs 'key' (the argument holding the record id)")
        if self.op == "find" and not self.match:
            raise ValueError("op 'find' needs 'match' (record field -> argument)")
        if self.op == "create" and self.create is None:
            raise ValueError("op 'create' needs 'create'")
        writes = self.set or self.append or self.extend or self.update_where or self.create or self.require
        if self.op in ("get", "find") and writes:
            raise ValueError(f"op '{self.op}' is read-only: no 'set', 'append', 'extend', "
                             "'update_where', 'create' or 'require'")
        if self.op == "create" and (self.set or self.append or self.extend or self.update_where) \
                and not targeted:
            raise ValueError("'set', 'append', 'extend' and 'update_where' change the target record: "
                             "give 'key' or 'id'")
        return self

    @property
    def writes(self) -> bool:
        return self.op in ("update", "create")

    @property
    def written_collections(self) -> frozenset[str]:
        out = {self.collection} if self.op == "update" else set()
        if self.create is not None:
            out.add(self.create.collection)
        if self.op == "create" and (self.set or self.append or self.extend or self.update_where):
            out.add(self.collection)
        return frozenset(out)


class PythonTool(_Strict):
    """A tool written as a typed Python function in the domain's ``tools.py``.

    The module's source travels with the task, so a loaded task (or an exported dataset file)
    runs anywhere; see :mod:`baton.tool_module`.
    """

    file: str = Field(description="The tools.py the function is in, for messages.")
    function: str = Field(description="The function's name in that module.")
    line: int = Field(ge=1, description="Line of the function's definition.")
    writes: bool = Field(description="Whether the tool changes the world (declared by its author).")
    source: str = Field(description="The whole tools.py text.")


class ToolSpec(_Strict):
    """A tool over the sandboxed world, as a model sees it (name, description, JSON schema).

    What it does is exactly one of: ``effect`` (one declarative effect), ``effects`` (several,
    run in order as one all-or-nothing call; the call returns the last one's result) or
    ``python`` (a function of the domain's tools.py).
    """

    name: Annotated[str, StringConstraints(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")]
    description: str
    parameters: dict[str, JSONValue] = Field(description="JSON Schema of the arguments (type: object).")
    effect: Effect | None = None
    effects: list[Effect] = Field(default_factory=list)
    python: PythonTool | None = None

    @model_validator(mode="after")
    def _one_behaviour(self) -> ToolSpec:
        given = [self.effect is not None, bool(self.effects), self.python is not None]
        if sum(given) != 1:
            raise ValueError("set exactly one of 'effect', 'effects' (a list) or 'python'")
        return self

    @property
    def effect_list(self) -> list[Effect]:
        """The declarative effects, in order; empty for a Python tool."""
        return [self.effect] if self.effect is not None else list(self.effects)

    @property
    def primary_effect(self) -> Effect | None:
        """The first declarative effect (the record the tool is about); None for a Python tool."""
        return self.effect if self.effect is not None else (self.effects[0] if self.effects else None)

    @property
    def side_effect(self) -> bool:
        if self.python is not None:
            return self.python.writes
        return any(e.writes for e in self.effect_list)

    @property
    def written_collections(self) -> frozenset[str] | None:
        """Collections the tool may write; None when unknown (a writing Python tool)."""
        if self.python is not None:
            return frozenset() if not self.python.writes else None
        return frozenset().union(*(e.written_collections for e in self.effect_list))

    def openai_schema(self) -> dict[str, Any]:
        """The tool in the OpenAI Chat Completions ``tools`` format."""
        return {"type": "function",
                "function": {"name": self.name, "description": self.description,
                             "parameters": self.parameters}}


# --------------------------------------------------------------------------- the world


Records = dict[str, dict[str, JSONValue]]  # record id -> record fields
ExpectedRecords = dict[str, dict[str, JSONValue] | None]  # record id -> fields that matter, or None: absent


class WorldSeed(_Strict):
    """Initial state of a task's sandboxed systems: collections of records keyed by id."""

    today: dt.date = Field(description="The world's current date, for policy windows.")
    collections: dict[str, Records] = Field(default_factory=dict)


# --------------------------------------------------------------------------- gold labels


class ToolCall(_Strict):
    """A tool call: gold (expected) or observed (in a trace)."""

    name: str
    arguments: dict[str, JSONValue] = Field(default_factory=dict)
    expect_error: bool = Field(default=False, description="Gold only: the tool must reject this call "
                                                          "(e.g. the benchmark's own agent tries it and "
                                                          "fails); replay checks it does, and changes nothing.")


FactKind = Literal["text", "money", "date", "id", "number", "duration"]


class Fact(_Strict):
    """A fact the answer must state (or, when not ``required``, may state), with the forms in
    which it is accepted. A stated value of the fact's kind that contradicts it is a wrong fact."""

    id: Slug
    forms: list[str] = Field(min_length=1, description='Accepted forms, e.g. ["$49", "49.00 USD"].')
    kind: FactKind = "text"
    required: bool = Field(default=True, description="False: need not appear, but must be right if stated.")


class ForbiddenClaim(BaseModel):
    """A claim the answer must not make: a typed value (``kind`` money, date, id, number,
    duration: "$98" also matches "ninety-eight dollars") or a short statement (``kind: text``),
    matched with the same negation and quotation handling as facts. A plain string in
    ``forbidden_claims`` is a claim of whatever kind it reads as."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FactKind = "text"
    forms: tuple[str, ...] = Field(min_length=1, description="Forms of the claim, any of which counts.")
    why: str | None = None

    @field_validator("forms")
    @classmethod
    def _non_blank(cls, forms: tuple[str, ...]) -> tuple[str, ...]:
        for i, form in enumerate(forms):
            if not form.strip():
                raise ValueError(f"forms.{i}: expected a non-blank claim")
        return forms

    def __repr__(self) -> str:
        return repr(self.forms[0]) if len(self.forms) == 1 else repr(" | ".join(self.forms))

    def strip(self) -> str:
        """The first form, stripped: lets code that handles plain-string claims read this one."""
        return self.forms[0].strip()


def _claim_tag(value: Any) -> str:
    return "typed" if isinstance(value, (dict, ForbiddenClaim)) else "text"


# A forbidden claim: a plain string, or a typed claim (one error path for each, not both).
ClaimSpec = Annotated[Union[Annotated[str, Tag("text")], Annotated[ForbiddenClaim, Tag("typed")]],
                      Discriminator(_claim_tag)]


class AskField(_Strict):
    """A missing piece of information an ``ask`` reply must ask the user for."""

    id: Slug
    forms: list[str] = Field(min_length=1, description='Ways to name it, e.g. ["member ID", "member number"].')

    @field_validator("forms")
    @classmethod
    def _non_blank(cls, forms: list[str]) -> list[str]:
        for i, form in enumerate(forms):
            if not form.strip():
                raise ValueError(f"forms.{i}: expected a non-blank form")
        return forms


class ForbiddenAction(_Strict):
    """A tool call a correct system must never make. Matches when the name is equal and every
    argument given here equals the call's (arguments left out match anything)."""

    name: str
    arguments: dict[str, JSONValue] = Field(default_factory=dict)
    why: str


Outcome = Literal["act", "answer", "refuse", "ask", "escalate"]


class Gold(_Strict):
    """What a correct system does at every hop. No runner may read this."""

    route: Slug
    outcome: Outcome = Field(description="act: perform the tool actions; answer: inform only; "
                                         "refuse: decline per policy; ask: request missing info; "
                                         "escalate: hand off to a human")
    evidence: list[str] = Field(default_factory=list,
                                description="Document ids and record refs ('invoices/5120') that must be retrieved.")
    tool_calls: list[ToolCall] = Field(default_factory=list)
    ordered: bool = Field(default=False, description="Whether the order of tool_calls matters.")
    final_state: dict[str, ExpectedRecords] = Field(
        default_factory=dict,
        description="collection -> record id -> the fields that matter. Replaying tool_calls on "
                    "the initial world must reach it. A record id mapped to null must not exist.")
    facts: list[Fact] = Field(default_factory=list)
    forbidden_claims: list[ClaimSpec] = Field(default_factory=list)
    forbidden_actions: list[ForbiddenAction] = Field(default_factory=list)
    asks_for: list[AskField] = Field(
        default_factory=list, description="Outcome 'ask' only: what the reply must ask the user for.")
    assertions: list[str] = Field(
        default_factory=list, description="Free-text requirements graded by the LLM judge when one is "
                                          "configured; reported as unjudged otherwise.")
    notes: str | None = Field(default=None, description="Why this is right, for human readers.")

    @field_validator("asks_for")
    @classmethod
    def _asks_only_on_ask(cls, asks_for: list[AskField], info: ValidationInfo) -> list[AskField]:
        outcome = info.data.get("outcome")
        if asks_for and outcome != "ask":
            raise ValueError(f"asks_for is only for outcome 'ask' (this task's outcome is '{outcome}')")
        return asks_for

    @field_validator("assertions")
    @classmethod
    def _non_blank_assertions(cls, assertions: list[str]) -> list[str]:
        for i, text in enumerate(assertions):
            if not text.strip():
                raise ValueError(f"assertions.{i}: expected a non-blank assertion")
        return assertions


# --------------------------------------------------------------------------- the task


class Customer(_Strict):
    id: str
    name: str | None = None
    email: str | None = None
    attributes: dict[str, JSONValue] = Field(default_factory=dict)


class Turn(_Strict):
    role: Literal["user", "assistant"]
    content: str


Tag = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]
"""A free-form task tag (``multi_hop``, ``refusal``, ``vip_customer``...): reports group by it."""


class GoldenTask(_Strict):
    """One golden task, loaded and resolved: everything a run and its graders need."""

    id: Annotated[str, StringConstraints(pattern=TASK_ID_PATTERN)] = Field(
        description="'<domain>/<slug>'")
    version: int = Field(ge=1, description="Bump when the expectations change; never reuse.")
    domain: Slug
    title: str
    request: str = Field(min_length=1, description="The user's message, verbatim.")
    customer: Customer | None = None
    conversation: list[Turn] = Field(default_factory=list, description="Turns before the request.")
    tags: list[Tag] = Field(default_factory=list)
    routes: list[Route] = Field(min_length=1, description="The labels the router chooses from.")
    policy: str | None = Field(default=None, description="Short operating policy for the agent.")
    documents: list[Document]
    tools: list[ToolSpec]
    world: WorldSeed
    gold: Gold
    source: str | None = Field(default=None, description="Task file path.")

    def document(self, doc_id: str) -> Document:
        for doc in self.documents:
            if doc.id == doc_id:
                return doc
        raise KeyError(doc_id)

    def tool(self, name: str) -> ToolSpec:
        for spec in self.tools:
            if spec.name == name:
                return spec
        raise KeyError(name)

    @property
    def route_labels(self) -> list[str]:
        return [r.label for r in self.routes]
