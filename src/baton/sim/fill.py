"""Fill a JSON schema from a conversation: classify enums, pick entities, verify drafts."""

from __future__ import annotations

import math
import re
from random import Random
from typing import Any

from baton.sim.answer import compose_answer, relevant_sentences
from baton.sim.conversation import Conversation
from baton.sim.intent import expand
from baton.sim.text import Entity, claims, current_text, name_tokens, overlap, sentences, significant, tokens

_FALLBACK_LABELS = ("other", "none", "unknown", "general", "fallback", "misc")
TEXT_FIELDS = ("answer", "reply", "response", "text", "message", "content", "body", "draft", "output")
SHORT_FIELDS = ("summary", "reason", "rationale", "note", "explanation", "justification", "title", "comment")
QUERY_FIELDS = ("query", "search", "keyword", "question")
_EXAMPLE = re.compile(r"e\.g\.?,?\s*[\"'\u201c]?([A-Za-z0-9#$@.\-]+)")
_PASS = ("pass", "approve", "accept", "ok", "supported", "yes", "valid")
_FAIL = ("fail", "reject", "revise", "unsupported", "no", "invalid")
_SOURCE_WEIGHT = {"user": 1.5, "tool": 1.0, "record": 1.0, "system": 0.5, "assistant": 0.2}


class Filler:
    """Fills schemas and arguments for one conversation."""

    def __init__(self, conv: Conversation, rng: Random, mistakes: dict[str, bool]) -> None:
        self.conv = conv
        self.rng = rng
        self.mistakes = mistakes
        self._defs: dict[str, Any] = {}
        self.sources: frozenset[str] | None = None  # when set, pick only entities from these sources
        self.prefer_group: int | None = None  # when set, favour values of this record
        self.skip_origins: frozenset[str] = frozenset()  # tools whose results are not picked from

    # --- schemas ---------------------------------------------------------------------------

    def fill_schema(self, schema: dict[str, Any]) -> Any:
        defs = schema.get("$defs") or schema.get("definitions") or {}
        self._defs = defs if isinstance(defs, dict) else {}
        if _is_verifier(schema):
            return self._verify(schema)
        return self.fill(schema, "", schema.get("description", ""))

    def fill(self, schema: dict[str, Any], name: str, hint: str = "") -> Any:
        if not isinstance(schema, dict):
            return None
        schema = self._resolve(schema)
        description = f"{hint} {schema.get('description') or ''}".strip()
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            values = schema["enum"] if isinstance(schema["enum"], list) else []
            if not values:
                return None
            return self.classify([str(v) for v in values], description, {})[0] \
                if all(isinstance(v, str) for v in values) else values[0]
        variants = schema.get("oneOf") or schema.get("anyOf")
        if isinstance(variants, list) and variants:
            labels = {str(v["const"]): v.get("description", "") for v in variants if isinstance(v, dict)
                      and "const" in v}
            if labels:
                return self.classify(list(labels), description, labels)[0]
            non_null = [v for v in variants if isinstance(v, dict) and v.get("type") != "null"]
            return self.fill(non_null[0] if non_null else variants[0], name, description)
        kind = schema.get("type", "object" if "properties" in schema else "string")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if kind == "object":
            props = schema.get("properties")
            return {key: self.fill(sub, key) for key, sub in props.items()} if isinstance(props, dict) else {}
        if kind == "array":
            return self._fill_array(schema, name, description)
        if kind == "boolean":
            return overlap(self.conv.question_tokens, significant(name_tokens(name))) > 0
        if kind in ("number", "integer"):
            return self._fill_number(schema, name, description, kind == "integer")
        return self._fill_string(schema, name, description)

    def _resolve(self, schema: Any) -> dict[str, Any]:
        if not isinstance(schema, dict):
            return {}
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target = self._defs.get(ref.rsplit("/", 1)[-1])
            if isinstance(target, dict):
                return target
        return schema

    def _fill_array(self, schema: dict[str, Any], name: str, description: str) -> list[Any]:
        items = self._resolve(schema.get("items") or {})
        if isinstance(items.get("enum"), list):
            ranked = self.classify([str(v) for v in items["enum"]], description, {}, all_scores=True)
            return ranked[:1] if len(ranked) > 0 else []
        lname = name.lower()
        if any(w in lname for w in ("issue", "error", "problem", "missing", "warning")):
            return []
        if items.get("type", "string") == "object" or "properties" in items:
            return [self.fill(items, name)]
        if "id" in name_tokens(name) or lname.endswith("ids"):
            want = significant(name_tokens(name[:-1] if lname.endswith("s") else name))
            found = [e.value for e in self.conv.entities if e.kind in ("id", "code")
                     and (overlap(want, e.context) or not want)]
            return list(dict.fromkeys(found))[:3]
        return [s for s, _ in relevant_sentences(self.conv, 2)]

    def _fill_number(self, schema: dict[str, Any], name: str, description: str, integer: bool) -> float | int:
        entity = self.pick(name, schema, description)
        if entity is not None and entity.number() is not None:
            value = entity.number()
        elif "confidence" in name.lower() or "probab" in name.lower() or schema.get("maximum") == 1:
            value = 0.9
        else:
            value = schema.get("minimum", 0)
        assert value is not None
        if "maximum" in schema:
            value = min(value, schema["maximum"])
        if "minimum" in schema:
            value = max(value, schema["minimum"])
        return int(value) if integer else value

    def _fill_string(self, schema: dict[str, Any], name: str, description: str) -> str:
        lname = name.lower()
        if any(w in lname for w in QUERY_FIELDS):
            return " ".join(dict.fromkeys(self.conv.question_tokens))
        if any(w in lname for w in TEXT_FIELDS):
            return compose_answer(self.conv, self.rng, self.mistakes)
        if any(w in lname for w in SHORT_FIELDS) or not name:
            return _first_sentence(self.conv.question)
        entity = self.pick(name, schema, description)
        if entity is not None:
            return entity.value
        return _first_sentence(self.conv.question)

    # --- entities --------------------------------------------------------------------------

    def pick(self, name: str, schema: dict[str, Any], description: str = "",
             exclude: str | set[str] | None = None, strict: bool = False, hint: str = "") -> Entity | None:
        """The entity that best fits a field/parameter, or None when nothing fits.

        Values in ``exclude`` are skipped unless their key or context names the field (always
        skipped when ``strict``). ``hint`` adds words that describe the field (a tool's name)."""
        name_toks = name_tokens(name)
        want = significant(name_toks) + list(tokens(description)[:8])
        hinted = significant(name_tokens(hint)) if hint else []
        lname = name.lower()
        kind = schema.get("type", "string")
        if kind in ("number", "integer"):
            kinds = {"amount", "number"}
        elif "email" in lname:
            kinds = {"email"}
        elif "date" in lname or "day" in name_toks:
            kinds = {"date"}
        else:
            kinds = {"id", "code", "number"}
        amountish = any(w in lname for w in ("amount", "price", "total", "cost", "sum", "fee", "balance"))
        shape = _shape(description)
        excluded = {exclude} if isinstance(exclude, str) else (exclude or set())
        best, best_score = None, 1.4
        for e in self.conv.entities:
            if self.sources is not None and e.source not in self.sources:
                continue
            if e.origin and e.origin in self.skip_origins:
                continue
            key_match = bool(e.key) and (e.key == name or (significant(name_tokens(e.key)) == significant(name_toks)
                                                           and significant(name_toks)))
            if e.kind not in kinds and not key_match:
                continue
            if shape is not None and not shape.fullmatch(e.value):
                continue
            context_match = overlap(want, e.context)
            if e.value in excluded and (strict or not (key_match or context_match)):
                continue
            score = _SOURCE_WEIGHT.get(e.source, 0.0) + 2.0 * context_match
            if hinted:
                score += overlap(hinted, e.context)
            if key_match:
                score += 6.0
            if amountish and e.kind == "amount":
                score += 1.0
            if e.kind == "number" and kinds != {"amount", "number"} and not key_match and not context_match:
                continue
            if e.kind == "number" and kinds != {"amount", "number"} and not key_match \
                    and e.source in ("tool", "record") and not _idish(e.key):
                continue  # a count or quantity of a record is never its identifier
            if _idish(name) and e.key and e.key != "id" and _idish(e.key) and not key_match:
                continue  # another record's reference (member_id) is not this one's id (membership_id)
            if e.key == "id" and _idish(name) and context_match:
                score += 2.0
            score += e.relevance
            if self.prefer_group is not None and e.group == self.prefer_group and e.source in ("tool", "record"):
                score += 3.0
            if score > best_score:
                best, best_score = e, score
        return best

    # --- classification --------------------------------------------------------------------

    def classify(self, labels: list[str], description: str, label_descriptions: dict[str, str],
                 all_scores: bool = False) -> list[str]:
        """Labels ranked by lexical overlap with the conversation; a wrong label when the draw says so."""
        q = expand(self.conv.question)
        others = self.conv.user_tokens
        texts = description + "\n" + self.conv.system
        scored = []
        for index, label in enumerate(labels):
            label_toks = name_tokens(label)
            desc = label_descriptions.get(label) or _described(label, texts, labels)
            desc_toks = expand(desc)
            length = math.sqrt(max(1.0, len(set(desc_toks)) / 8))  # long passages match many words by chance
            score = 4.0 * overlap(q, label_toks) + overlap(q, desc_toks) / length \
                + 0.3 * (overlap(others, label_toks) + overlap(others, desc_toks))
            score += _quoted_bonus(label, self.conv.system, q)
            scored.append((-score, index, label))
        scored.sort()
        ranked = [label for _, _, label in scored]
        if scored and scored[0][0] == 0:
            fallback = [label for label in labels if label.lower() in _FALLBACK_LABELS]
            if fallback:
                ranked.remove(fallback[0])
                ranked.insert(0, fallback[0])
        if all_scores:
            ranked = [label for s, _, label in scored if s < 0] or ranked[:1]
        if self.mistakes.get("wrong_label") and len(ranked) > 1:
            wrong = ranked[1 + self.rng.randrange(len(ranked) - 1)]
            ranked.remove(wrong)
            ranked.insert(0, wrong)
        return ranked

    # --- verification ----------------------------------------------------------------------

    def _verify(self, schema: dict[str, Any]) -> dict[str, Any]:
        draft = self.conv.draft or ""
        context = "\n".join([t for _, t in self.conv.context] + [r.text for r in self.conv.results]
                            + ([self.conv.question] if self.conv.draft is not None else []))
        supported = set(claims(context))
        unsupported = list(dict.fromkeys(c for c in claims(draft) if c not in supported))
        ok = not unsupported
        if self.mistakes.get("wrong_label"):
            ok = not ok
        issues = [] if ok else ([f"unsupported value: {c}" for c in unsupported] or ["the draft is not supported"])
        out: dict[str, Any] = {}
        for key, sub in (schema.get("properties") or {}).items():
            sub = self._resolve(sub)
            if key.lower() in ("verdict", "status", "result", "decision") and "enum" in sub:
                out[key] = _verdict_label([str(v) for v in sub["enum"]], ok)
            elif sub.get("type") == "boolean" and key.lower() in ("passed", "pass", "ok", "approved", "supported",
                                                                  "valid", "grounded"):
                out[key] = ok
            elif sub.get("type") == "array" and key.lower() in ("issues", "problems", "errors", "unsupported",
                                                                "reasons"):
                out[key] = issues
            else:
                out[key] = self.fill(sub, key)
        return out


def _quoted_bonus(label: str, text: str, query: tuple[str, ...]) -> float:
    """A label the current policy quotes as a value to use ('with reason `offboarding`') in a
    sentence about the request: up to 1.5 more."""
    if label not in text:
        return 0.0
    best = 0
    for sentence in sentences(current_text(text)):
        if f"`{label}`" in sentence or f'"{label}"' in sentence:
            best = max(best, overlap(query, tokens(sentence)))
    return min(1.5, 0.5 * best)


def _idish(key: str) -> bool:
    low = key.lower()
    return low == "id" or low.endswith(("id", "_no", "number", "locator", "reference", "ref", "code"))


def _is_verifier(schema: dict[str, Any]) -> bool:
    props = schema.get("properties")
    if not isinstance(props, dict):
        return False
    for key, sub in props.items():
        if not isinstance(sub, dict):
            continue
        if key.lower() in ("verdict", "status", "result", "decision") and isinstance(sub.get("enum"), list):
            values = [str(v).lower() for v in sub["enum"]]
            if any(v.startswith(_PASS) for v in values) and any(v.startswith(_FAIL) for v in values):
                return True
        if sub.get("type") == "boolean" and key.lower() in ("passed", "pass", "approved", "supported", "grounded"):
            return True
    return False


def _verdict_label(values: list[str], ok: bool) -> str:
    prefixes = _PASS if ok else _FAIL
    return next((v for v in values if v.lower().startswith(prefixes)), values[0])


def _described(label: str, text: str, labels: list[str]) -> str:
    """What ``text`` says about ``label``: on a line naming one label, the line; on a line naming
    several ('a: ...; b: ...'), the stretch after ``label`` up to the next label."""
    if not text or label not in text:
        return ""
    pattern = re.compile("|".join(rf"(?<![\w-]){re.escape(lab)}(?![\w-])" for lab in labels))
    out = []
    for line in text.splitlines():
        if label not in line:
            continue
        hits = list(pattern.finditer(line))
        mine = [i for i, m in enumerate(hits) if m.group() == label]
        if not mine:
            continue
        if len(hits) == 1:  # a short line describes the label; in a long passage, only its sentences do
            out.extend([line.replace(label, " ")] if len(line) <= 300
                       else (s.replace(label, " ") for s in sentences(line) if label in s))
            continue
        for i in mine:
            end = hits[i + 1].start() if i + 1 < len(hits) else len(line)
            out.append(line[hits[i].end():end])
    return " ".join(out)


def _shape(description: str) -> re.Pattern[str] | None:
    m = _EXAMPLE.search(description)
    if not m:
        return None
    example = m.group(1).lstrip("#").rstrip(".")
    if example.isdigit():
        return re.compile(r"\d+")
    if re.fullmatch(r"[A-Za-z]{1,5}-\d+", example):
        return re.compile(r"[A-Za-z]{1,5}-\d+")
    return None


def _first_sentence(text: str) -> str:
    parts = sentences(text)
    return parts[0] if parts else text.strip()
