"""The simulated vendor as a tool-using support agent: understand, look up, check policy, act, reply."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from random import Random
from typing import Any

from baton.sim.answer import compose_answer, relevant_sentences, summarize_record
from baton.sim.conversation import Conversation
from baton.sim.fill import QUERY_FIELDS, SHORT_FIELDS, TEXT_FIELDS, Filler
from baton.sim.intent import action_words, expand, intent_score, is_read, verb_phrase
from baton.sim.policy import record_of, rule_refusal, state_refusal, window_refusal
from baton.sim.text import name_tokens, overlap, significant, text_entities, tokens

_GENERIC_VERBS = frozenset(tokens("issue create make submit process send add do perform apply request start "
                                  "initiate open file set update post execute run handle place"))


@dataclass(slots=True)
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]

    @property
    def read(self) -> bool:
        return is_read(self.name, self.description)

    @property
    def verb(self) -> str:
        """The action the tool performs: its first name word that is not a generic verb
        (``refund_invoice`` -> refund, ``issue_refund`` -> refund, ``reset_password`` -> reset)."""
        toks = name_tokens(self.name)
        specific = [t for t in toks if t not in _GENERIC_VERBS]
        return specific[0] if specific else (toks[0] if toks else self.name)

    @property
    def required(self) -> list[str]:
        required = self.parameters.get("required") or []
        return [r for r in required if isinstance(r, str)] if isinstance(required, list) else []

    @property
    def properties(self) -> dict[str, Any]:
        return self.parameters.get("properties") or {}


@dataclass(slots=True)
class Step:
    """Either a tool call (name, arguments) or a text answer."""

    text: str = ""
    call: tuple[str, dict[str, Any]] | None = None


def parse_tools(tools: Any) -> list[Tool]:
    """The request's ``tools``; :class:`ValueError` naming the first malformed entry."""
    if not isinstance(tools, list):
        raise ValueError("'tools' must be a list")
    out = []
    for i, spec in enumerate(tools):
        fn = spec.get("function", spec) if isinstance(spec, dict) else None
        if not isinstance(fn, dict) or not isinstance(fn.get("name"), str):
            raise ValueError(f"tools[{i}].function must be an object with a 'name'")
        params = fn.get("parameters") or {}
        if not isinstance(params, dict) or not isinstance(params.get("properties") or {}, dict):
            raise ValueError(f"tools[{i}].function.parameters must be a JSON schema object")
        out.append(Tool(fn["name"], str(fn.get("description") or ""), params))
    return out


_MAX_READS = 5
_KEY_SOURCES = frozenset({"user", "tool", "record"})


def next_step(conv: Conversation, tools: list[Tool], rng: Random, mistakes: dict[str, bool]) -> Step:
    """What a policy-aware support agent does next given the conversation so far.

    1. Understand the request (injected instructions removed, paraphrases mapped to support verbs)
       and which write tools it asks for; a request that only an injected instruction makes is refused.
    2. Look records up: the ones the request names, then records those refer to, else the
       customer's own records.
    3. For each intended write, in order: refuse when the record's state or the current policy
       forbids it, ask when the target is ambiguous or a required argument is unknown, else call it.
    4. Reply with what the write tools returned and the current policy's relevant sentences."""
    reads = [t for t in tools if t.read]
    writes = [t for t in tools if not t.read]
    intents = intended_writes(conv.intent_tokens, writes)
    if conv.injected and not intents:
        wanted = intended_writes(expand(conv.question), writes)
        if wanted:
            verb = verb_phrase(wanted[0].name)
            lead = (f"I can't {verb} as asked: instructions to override or ignore the policy don't change "
                    f"it, and I only act within the current policy.")
            return Step(text=compose_answer(conv, rng, mistakes, lead=lead, results=[]))
    lookup = _next_lookup(conv, reads, intents)
    if lookup is not None:  # lookups suffer the same argument slips as actions (not twice in a row)
        tool = next(t for t in reads if t.name == lookup[0])
        if conv.calls and conv.calls[-1][0] == tool.name:
            return Step(call=lookup)
        return Step(call=(lookup[0], _inject_argument_mistakes(lookup[1], tool, Filler(conv, rng, mistakes),
                                                               rng, mistakes)))
    sent = _well_formed(conv)
    done = [r for r, ok in zip(conv.results, sent, strict=False) if ok and r.name in {w.name for w in writes}]
    focus = tuple(w for tool in intents for w in action_words(tool.name))
    if not intents:
        return Step(text=compose_answer(conv, rng, mistakes, results=_answer_results(conv, reads), focus=focus))
    if any(r.error for r in done):
        return Step(text=compose_answer(conv, rng, mistakes, results=done, focus=focus))
    called = {name for (name, _), ok in zip(conv.calls, sent, strict=False) if ok}
    for write in intents:
        if write.name in called and not _wants_all(conv):
            continue
        step = _act(conv, write, rng, mistakes, focus, done)
        if step is not None:
            return step
    return Step(text=compose_answer(conv, rng, mistakes, results=done or None, focus=focus))


def _well_formed(conv: Conversation) -> list[bool]:
    """Per call so far: whether its arguments were a JSON object (a garbled call never ran, so
    the agent may make it again)."""
    return [args.startswith("{") and args.endswith("}") for _, args in conv.calls]


def _act(conv: Conversation, write: Tool, rng: Random, mistakes: dict[str, bool], focus: tuple[str, ...],
         done: list[Any]) -> Step | None:
    """The next call of ``write``, or a refusal / question in its place; None when it is done."""
    verbs = action_words(write.name)
    filler = Filler(conv, rng, mistakes)
    filler.skip_origins = frozenset(r.name for r in done)  # act on looked-up records, not on what acting returned
    args, missing, group = _fill_arguments(filler, write)
    record = record_of(conv, group)
    refusal = state_refusal(write.description, verbs, record) or window_refusal(conv, verbs, record)
    rule = "" if refusal else rule_refusal(conv, verbs + tuple(str(v) for v in args.values()), record)
    if rule:
        switched = _avoid(write, args, rule)
        if switched is None:
            refusal = f"I can't do that: {rule}"
        else:
            args = switched
    if refusal:
        summary = summarize_record(record)
        lead = refusal + (f" For reference: {summary}." if summary else "")
        return Step(text=compose_answer(conv, rng, mistakes, lead=lead, results=done, focus=focus))
    if _VERIFIED_ONLY.search(write.description) and _customer(conv) is None:
        wanted = " and ".join(_param_label(write, m) for m in write.required if m in args and not
                              (write.properties.get(m) or {}).get("enum")) or "account details"
        context = " ".join(s for s, _ in relevant_sentences(conv, 2, focus + tokens("verify identity")))
        return Step(text=f"Before I can {verb_phrase(write.name)} I need to verify your identity: please give me "
                         f"your {wanted}. {context}".strip())
    if not _status_allowed(conv, write, group):
        retarget = _next_target(conv, write, args, group, set(conv.calls))
        if retarget is None:
            return None
        args, group = retarget
        args = _enum_arguments(filler, write, args, record_of(conv, group))
    choices = _ambiguous(conv, group)
    if choices and not _wants_all(conv):
        return Step(text=f"I found more than one that could be the one you mean: {'; '.join(choices)}. "
                         f"Which one should I {verb_phrase(write.name)}?")
    if missing:
        wanted = " and ".join(_param_label(write, m) for m in missing)
        context = " ".join(s for s, _ in relevant_sentences(conv, 2, focus))
        return Step(text=f"To {verb_phrase(write.name)} I need the {wanted}. Could you provide it? {context}".strip())
    made = set(conv.calls)
    if (write.name, _canonical(args)) in made:
        if not _wants_all(conv):
            return None
        retarget = _next_target(conv, write, args, group, made)
        if retarget is None:
            return None
        args, group = retarget
        args = _enum_arguments(filler, write, args, record_of(conv, group))
    args = _inject_argument_mistakes(args, write, filler, rng, mistakes)
    return Step(call=(write.name, args))


def _avoid(write: Tool, args: dict[str, Any], rule: str) -> dict[str, Any] | None:
    """When a rule excludes an argument value the tool offers alternatives to ('refund' among
    'refund'/'travel_credit'), the arguments with the first alternative the rule does not
    exclude; None when the rule excludes the action itself."""
    rule_toks = tokens(rule)
    for key, value in args.items():
        options = (write.properties.get(key) or {}).get("enum")
        if not isinstance(options, list) or not overlap(rule_toks, name_tokens(str(value))):
            continue
        for option in options:
            if option != value and not overlap(rule_toks, name_tokens(str(option))):
                return {**args, key: option}
    return None


_VERIFIED_ONLY = re.compile(r"only (?:for|when|if|to) [^.]{0,40}(?:verified|authenticated|signed[- ]in|identity)",
                            re.I)
_ALL = re.compile(r"\b(?:all|every|each|everything)\b", re.I)


def _wants_all(conv: Conversation) -> bool:
    return bool(_ALL.search(conv.request))


def _next_target(conv: Conversation, write: Tool, args: dict[str, Any], group: int | None,
                 made: set[tuple[str, str]]) -> tuple[dict[str, Any], int] | None:
    """For 'remove all of his access': the same call on the next record of the list the first
    target came from, skipping records already done."""
    key = next((k for k in write.required if k in args and str(args[k]) in
                {e.value for e in conv.entities if e.group == group}), None)
    if key is None:
        return None
    target = next((e for e in conv.entities if e.group == group and e.value == str(args[key])), None)
    if target is None:
        return None
    siblings = [e for e in conv.entities if e.source == "tool" and e.key == target.key and e.origin == target.origin
                and e.lineage[1:] == target.lineage[1:]]
    for entity in siblings:
        candidate = {**args, key: _typed(entity.value, write.properties.get(key) or {})}
        if (write.name, _canonical(candidate)) not in made and _status_allowed(conv, write, entity.group):
            return candidate, entity.group
    return None


def _status_allowed(conv: Conversation, write: Tool, group: int | None) -> bool:
    """False when the tool's description names the states it acts on ('one active account') and
    the record is in another state its list shows ('revoked')."""
    if group is None:
        return True
    status = record_of(conv, group).get("status")
    if status is None:
        return True
    states = {e.value for e in conv.entities if e.key == "status" and e.source == "tool"}
    named = {v for v in states if re.search(rf"\b{re.escape(v)}\b", write.description, re.I)}
    return not named or status in named


def intended_writes(request: tuple[str, ...], writes: list[Tool]) -> list[Tool]:
    """The write tools the request asks for, best first; several when the request asks for several
    things ('correct my name and move my seat'), ties broken by tool order."""
    scored = [(intent_score(request, t.name, t.description), i, t) for i, t in enumerate(writes)]
    scored = [s for s in scored if s[0] > 0]
    if not scored:
        return []
    best = max(s[0] for s in scored)
    keep = [s for s in scored if s[0] >= max(3.0, 0.6 * best)] or [max(scored, key=lambda s: (s[0], -s[1]))]
    keep.sort(key=lambda s: (-s[0], s[1]))
    out, leads = [], set()
    for _, _, tool in keep:  # 'reset my password' wants reset_password, not every reset_* tool too
        lead = action_words(tool.name)[0]
        if lead not in leads:
            leads.add(lead)
            out.append(tool)
    return out


def _answer_results(conv: Conversation, reads: list[Tool]) -> list[Any]:
    """Lookups worth stating in a reply that takes no action: the last successful one."""
    ok = [r for r in conv.results if not r.error]
    return ok[-1:]


def _param_label(tool: Tool, name: str) -> str:
    """How to ask for a parameter: its description's first phrase ('Invoice number'), else its name."""
    desc = str((tool.properties.get(name) or {}).get("description") or "")
    phrase = re.split(r"[,.;(]", desc)[0].strip()
    if phrase and len(phrase.split()) <= 5:
        return phrase[0].lower() + phrase[1:]
    return name.replace("_", " ")


# --------------------------------------------------------------------------- lookups


def _next_lookup(conv: Conversation, reads: list[Tool], intents: list[Tool]) -> tuple[str, dict[str, Any]] | None:
    """The next read call: a record the request names, a record a looked-up one refers to, or
    (when the agent must act but the request names no record) the customer's records."""
    read_names = {t.name for t in reads}
    made = set(conv.calls)
    if sum(1 for name, _ in conv.calls if name in read_names) >= _MAX_READS:
        return None

    def fresh(tool: Tool, param: str, value: str) -> tuple[str, dict[str, Any]] | None:
        args = {param: _typed(value, tool.properties.get(param) or {})}
        return None if (tool.name, _canonical(args)) in made else (tool.name, args)

    keyed = [(t, t.required[0]) for t in reads if len(t.required) == 1]
    named = [e for e in text_entities(conv.request, "user") if e.kind in ("id", "code", "email")]
    for entity in named:
        fits = [(t, p) for t, p in keyed if _fits(t, p, entity.value, entity.context)]
        if fits:
            step = fresh(*fits[0], entity.value)
            if step is not None:
                return step
    found_any = any(r.name in read_names and not r.error for r in conv.results)
    if intents and not found_any:
        for tool, param in keyed:
            value = person_name(conv, param) if is_name_param(param) else ""
            if value:
                step = fresh(tool, param, value)
                if step is not None:
                    return step
    found = [r for r in conv.results if r.name in read_names and not r.error]
    if found and (intents or named):
        for tool, param in keyed:
            for ref in _references(conv, param, read_names, own_only=_listing(tool)):
                if _fits(tool, param, ref.value, ref.context):
                    step = fresh(tool, param, ref.value)
                    if step is not None:
                        return step
    if not found and intents:
        customer = _customer(conv)
        if customer is not None:
            ranked = sorted(keyed, key=lambda tp: -_lookup_score(conv, tp[0], intents))
            for tool, param in ranked[:2]:
                if _fits(tool, param, customer.value, customer.context):
                    step = fresh(tool, param, customer.value)
                    if step is not None:
                        return step
    return None


def _listing(tool: Tool) -> bool:
    return name_tokens(tool.name)[:1] in (("list",), ("find",), ("search",))


def _lookup_score(conv: Conversation, tool: Tool, intents: list[Tool]) -> float:
    listing = 1.0 if _listing(tool) else 0.0
    params = {p for w in intents for p in w.properties}
    return listing + overlap(conv.intent_tokens, name_tokens(tool.name) + tokens(tool.description)) * 0.2 \
        + 0.5 * len(params & set(tool.properties))


def _references(conv: Conversation, param: str, read_names: set[str], own_only: bool = False) -> list[Any]:
    """Values of the most relevant looked-up records that ``param`` can take: a field stored under
    its name (a reference), or a record's own id when the id is of the kind ``param`` names
    (``employee_id`` <- an employee's ``id``). ``own_only``: only own ids (to list what a record has)."""
    subject = significant(name_tokens(param))
    listings = {name for name in read_names if name_tokens(name)[:1] in (("list",), ("find",), ("search",))}
    cands = [e for e in conv.entities if e.source == "tool" and e.origin in read_names
             and ((e.key == param and not own_only)
                  or (e.key == "id" and own_only and e.origin in listings and subject
                      and overlap(subject, e.context)))]
    if not cands:
        return []
    top = max(e.relevance for e in cands)
    return list({e.value: e for e in cands if e.relevance >= top}.values())[:2]


def _customer(conv: Conversation) -> Any:
    """The customer the conversation is about (an id the context introduces as the customer's)."""
    for e in conv.entities:
        if e.source == "system" and e.kind in ("id", "code") and "customer" in e.context:
            return e
    return None


_EXAMPLE_ID = re.compile(r"""(?:e\.g\.|example|such as|like)[:,]?\s*["'`]?([A-Za-z0-9][A-Za-z0-9_\-]*)""",
                         re.I)
_NOT_SUBJECTS = frozenset(tokens("look find fetch list show read with from that this their your return by given "
                                 "using digits only number one"))


def _fits(tool: Tool, param: str, value: str, context: frozenset[str]) -> bool:
    """Whether ``value`` can be ``param`` of ``tool``: the parameter's pattern, the shape of the
    example its description gives, or (with neither) words before the value naming its subject."""
    schema = tool.properties.get(param) or {}
    if isinstance(schema.get("pattern"), str):
        return re.search(schema["pattern"], value) is not None
    if isinstance(schema.get("enum"), list):
        return value in schema["enum"]
    example = _EXAMPLE_ID.search(str(schema.get("description", ""))) or _EXAMPLE_ID.search(tool.description)
    if example and any(ch.isdigit() for ch in example.group(1)):
        return _shape(example.group(1)).match(value) is not None
    subject = [t for t in name_tokens(param) + name_tokens(tool.name) if t not in ("id",) and t not in _NOT_SUBJECTS]
    return bool(context) and overlap(tuple(context), subject) > 0


@lru_cache(maxsize=1024)
def _shape(example: str) -> re.Pattern[str]:
    """Ids shaped like ``example``: same letter/digit/separator runs, digit runs of similar length."""
    parts = []
    for run in re.findall(r"\d+|[A-Za-z]+|[^A-Za-z\d]", example):
        if run[0].isdigit():
            parts.append(rf"\d{{{max(1, len(run) - 1)},{len(run) + 2}}}")
        else:
            parts.append("[A-Za-z]+" if run[0].isalpha() else re.escape(run))
    if re.fullmatch(r"[A-Za-z0-9]+", example) and re.search(r"[A-Za-z]", example) and re.search(r"\d", example) \
            and not re.fullmatch(r"[A-Za-z]+\d+", example):
        return re.compile(rf"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9]{{{len(example)}}}$")  # KQ7M2X: mixed, same length
    return re.compile("^" + "".join(parts) + "$")


def _ambiguous(conv: Conversation, group: int | None) -> list[str]:
    """When the record an action targets was picked from a list and another record of that list
    matches the request just as well, a short description of each; else nothing."""
    if group is None:
        return []
    ents = [e for e in conv.entities if e.source == "tool"]
    target = next((e for e in ents if e.group == group), None)
    if target is None or target.relevance <= 0:
        return []
    ids = {}
    for e in ents:
        if e.key == "id" and abs(e.relevance - target.relevance) < 1e-9 and e.group not in ids:
            ids[e.group] = e.value
    if len(ids) < 2 or group not in ids:
        return []
    out = []
    for g, value in ids.items():
        details = [f"{e.key.replace('_', ' ')} {e.value}" for e in ents
                   if e.group == g and e.kind in ("date", "amount")]
        out.append(f"{value} ({', '.join(details[:3])})" if details else value)
    return out


def _fill_arguments(filler: Filler, tool: Tool) -> tuple[dict[str, Any], list[str], int | None]:
    """Arguments from the request and looked-up records (never from documents), the values of one
    record kept together; also which record (entity group) the first looked-up value came from."""
    args: dict[str, Any] = {}
    missing = []
    used: set[str] = set()
    group: int | None = None
    filler.sources = _KEY_SOURCES
    for pname, pschema in tool.properties.items():
        pschema = pschema if isinstance(pschema, dict) else {}
        required = pname in tool.required
        if "enum" in pschema:
            continue
        if pschema.get("type") == "string" and not required:
            continue
        if required and pschema.get("type", "string") == "string" and _free_text(pname):
            args[pname] = filler.fill(pschema, pname)
            continue
        if pschema.get("type", "string") == "string" and is_name_param(pname):
            value = person_name(filler.conv, pname)
            if value:
                args[pname] = value
                continue
        entity = filler.pick(pname, pschema, str(pschema.get("description", "")), exclude=used, hint=tool.name)
        if entity is not None:
            args[pname] = _typed(entity.value, pschema)
            used.add(entity.value)
            if group is None and entity.source in ("tool", "record") and entity.group >= 0:
                group = entity.group
                filler.prefer_group = group
        elif required:
            missing.append(pname)
    filler.sources = None
    args = _enum_arguments(filler, tool, args, record_of(filler.conv, group))
    return args, missing, group


def _enum_arguments(filler: Filler, tool: Tool, args: dict[str, Any], record: dict[str, Any]) -> dict[str, Any]:
    """Required enum arguments: the target record's own value when it is an option, else classified."""
    out = dict(args)
    for pname in tool.required:
        pschema = tool.properties.get(pname) or {}
        if not isinstance(pschema, dict) or "enum" not in pschema:
            continue
        stated = [v for v in record.values() if v in pschema["enum"]]
        out[pname] = stated[0] if stated else filler.fill(pschema, pname)
    return {k: out[k] for k in tool.properties if k in out}


_PERSON = re.compile(r"\b([A-Z][a-z]+(?:[ -][A-Z][a-z]+)+)\b")
_NOT_NAMES = frozenset("my our your his her their the this that a an i dear hi hello mr mrs ms dr january february "
                       "march april may june july august september october november december monday tuesday "
                       "wednesday thursday friday saturday sunday".split())


def is_name_param(param: str) -> bool:
    """``last_name``, ``corrected_name``, ``fullName``: a parameter that holds a person's name."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", param).lower().replace("_", " ").replace("-", " ").split()
    return "name" in words or "surname" in words


def person_name(conv: Conversation, param: str) -> str:
    """A person's name the request gives for ``param`` (``last_name`` -> its last word): the last
    capitalised name in the request that no looked-up record already holds (the new spelling)."""
    known = {e.value.lower() for e in conv.entities if e.source in ("tool", "record")}
    names = []
    for m in _PERSON.finditer(conv.request):
        words = [w for w in m.group(1).split() if w.lower() not in _NOT_NAMES]
        if len(words) >= 2:
            names.append(" ".join(words))
    names = [n for n in names if n.lower() not in known] or []
    if not names:
        return ""
    name = names[-1]
    toks = re.sub(r"([a-z])([A-Z])", r"\1 \2", param).lower().replace("_", " ").split()
    if "last" in toks or "surname" in toks or "family" in toks:
        return name.split()[-1]
    if "first" in toks or "given" in toks:
        return name.split()[0]
    return name


def _free_text(name: str) -> bool:
    lname = name.lower()
    return any(w in lname for w in TEXT_FIELDS + SHORT_FIELDS + QUERY_FIELDS + ("description", "details"))


def _typed(value: str, schema: dict[str, Any]) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(float(value))
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    return value


def _inject_argument_mistakes(args: dict[str, Any], tool: Tool, filler: Filler, rng: Random,
                              mistakes: dict[str, bool]) -> dict[str, Any]:
    if mistakes.get("wrong_argument") and args:
        key = sorted(args)[rng.randrange(len(args))]
        args = dict(args)
        args[key] = _wrong_value(key, args[key], tool, filler, rng)
    if mistakes.get("missing_argument"):
        present = [k for k in tool.required if k in args]
        if present:
            args = dict(args)
            del args[present[rng.randrange(len(present))]]
    return args


def _wrong_value(key: str, value: Any, tool: Tool, filler: Filler, rng: Random) -> Any:
    schema = tool.properties.get(key) or {}
    if "enum" in schema and len(schema["enum"]) > 1:
        return rng.choice([v for v in schema["enum"] if v != value])
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return type(value)(value * 2 if value else 1)
    other = filler.pick(key, schema, str(schema.get("description", "")), exclude=str(value), strict=True)
    if other is not None:
        return _typed(other.value, schema)
    text = str(value)
    digits = [i for i, c in enumerate(text) if c.isdigit()]
    if len(digits) >= 2:
        i, j = digits[-2], digits[-1]
        if text[i] != text[j]:
            return text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]
    if digits:
        i = digits[-1]
        return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1:]
    return text + "x"


def _canonical(args: dict[str, Any]) -> str:
    return json.dumps(args, sort_keys=True, separators=(",", ":"))
