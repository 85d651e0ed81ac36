"""The ask flow: retrieve -> prompt -> guided generation -> decide -> answer.

Each attempt's answer is validated (docqa.flows.validate); a rejected one is tried again with
an altered prompt (docqa.flows.decide). The interaction is recorded as it goes: its row when
the question arrives, then one step per stage and per attempt, so an interrupted loop can be
inspected; the outcome when it ends.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from docqa.adapters.protocols import LLM, Embedder
from docqa.clock import startup
from docqa.contract import fills_json
from docqa.errors import DocqaError, UsageError
from docqa.flows import extractive
from docqa.flows.decide import decide, feedback, plan
from docqa.flows.extractive import NOT_FOUND
from docqa.flows.groundedness import NullPool, pool_from_store
from docqa.flows.guards import answer_flags, outlier_score, question_flags, reasons
from docqa.flows.reply import MAX_CITATIONS, REPLY_TOKENS, answer_schema, parse_reply, reply_of
from docqa.flows.retrieve import Ranking, clean_question, retrieve
from docqa.flows.validate import validate
from docqa.journal import (
    AnswerStep,
    Embed,
    Features,
    Generate,
    Guard,
    Opening,
    Outcome,
    Prompt,
    Recorder,
    Retrieve,
    RetrievedHit,
    Rewrite,
    Validate,
)
from docqa.prompts import load_program
from docqa.records import ANONYMOUS, Answer, Attempt, Citation, Profile, SearchResult
from docqa.store import Store


@dataclass(frozen=True)
class AskOptions:
    k: int = 5
    template: str | None = None  # None: "qa", or "extractive" in extractive mode
    log: bool = True
    mode: str = "generative"
    beams: int = 1
    max_attempts: int = 3
    session: str | None = None
    history: int = 4  # earlier turns of the session the model sees
    # who asks: retrieval only sees the documents this profile may read, and templates get
    # its features as `user`; None searches every document (tools that own the store)
    user: Profile | None = ANONYMOUS
    guard: bool = False  # withhold an answer to an outlier or toxic question, or a toxic one
    ranking: Ranking = Ranking()  # how retrieval ranks candidates

    @property
    def main_template(self) -> str:
        if self.template is not None:
            return self.template
        return "extractive" if self.mode == "extractive" else "qa"


class _Memo:
    """The embedder, remembering what it embedded for one question: the sources' sentences
    are embedded once for the extractive candidates, groundedness and relevance, in every
    attempt that shows them."""

    def __init__(self, embedder: Embedder):
        self.inner, self.name, self.dimension = embedder, embedder.name, embedder.dimension
        self.vectors: dict[str, np.ndarray] = {}

    def embed(self, texts):
        new = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        if new:
            vectors = np.asarray(self.inner.embed(new), dtype=np.float32)
            self.vectors.update(zip(new, vectors, strict=True))
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self.vectors[t] for t in texts])


@dataclass
class _Loop:
    """One question's way through the loop: its collaborators, and the totals so far."""

    question: str
    store: Store
    embedder: Embedder
    index: object
    llm: LLM
    options: AskOptions
    rec: Recorder
    history: list[dict] = field(default_factory=list)
    timings: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(
            ("load", "embed", "retrieve", "prompt", "generate", "validate"), 0.0
        )
    )
    tokens: dict[str, int] = field(
        default_factory=lambda: {"prompt": 0, "cached": 0, "completion": 0}
    )
    validated: float = 0.0  # seconds the last validation took
    first_token_at: float | None = None  # perf_counter() when the first answer token came

    def __post_init__(self) -> None:
        self.memo = _Memo(self.embedder)
        # what the asker may not read, worked out once for every retrieval of the question
        user = self.options.user
        self.forbidden = self.store.corpus.forbidden_chunks(user) if user is not None else set()

    def retrieve(self, also: tuple[str, ...]) -> SearchResult:
        found = retrieve(
            self.question,
            store=self.store,
            embedder=self.embedder,
            index=self.index,
            k=self.options.k,
            also=also,
            profile=self.options.user,
            forbidden=self.forbidden,
            ranking=self.options.ranking,
        )
        self.timings["embed"] += found.timings["embed"]
        self.timings["retrieve"] += found.timings["retrieve"]
        return found

    def generated(self, result) -> None:
        for key, value in result.tokens.items():
            known = self.tokens.get(key, 0)
            self.tokens[key] = None if value is None or known is None else known + value
        self.timings["prompt"] += result.timings["template"]
        self.timings["generate"] += result.timings["generate"]

    def rewrite(self, n: int) -> str:
        """The model's search query for the question (templates/rewrite.j2)."""
        user = (self.options.user or ANONYMOUS).template_value()
        result = load_program("rewrite").run(
            self.llm, {"question": self.question, "history": self.history, "user": user}
        )
        self.generated(result)
        query = str(result.slots.get("query", "")).strip()
        self.rec.step(
            Rewrite(n, query, result.tokens, fills_json(result)), result.timings["generate"]
        )
        return query

    def attempt(
        self,
        n: int,
        strategy: str,
        found: SearchResult,
        last: Attempt | None,
        null: Callable[[], NullPool],
    ) -> tuple[Attempt, str]:
        """Prompt, generate and validate once; returns the attempt and its prompt."""
        started = time.perf_counter()
        options = self.options
        template = options.main_template if strategy != "extractive" else "extractive"
        program = load_program(template)
        variables = _variables(found, self.history, feedback(last), self.options.user)
        if "extractive" in (template, options.mode):
            variables["candidates"] = extractive.candidates(found.vector, found.hits, self.embedder)
        begun = time.perf_counter()
        if options.beams > 1:
            from docqa.guide.beams import run_beams

            result = run_beams(program, self.llm, variables, options.beams)[0].result
        else:
            result = program.run(self.llm, variables)
        self.generated(result)
        first = result.fills[0].first_token_seconds if result.fills else None
        if self.first_token_at is None and first is not None:
            self.first_token_at = begun + result.timings["template"] + first
        digest = hashlib.sha256(result.text.encode()).hexdigest()
        prompt = Prompt(n, program.label, digest, variables["schema"], result.text)
        self.rec.step(prompt, result.timings["template"])
        self.rec.step(Generate(n, result.tokens, fills_json(result)), result.timings["generate"])
        answer, answerable, numbers = parse_reply(reply_of(result))
        t = time.perf_counter()
        verdicts, grounding = validate(
            question_vector=found.vector,
            answer=answer,
            answerable=answerable,
            citations=numbers,
            hits=found.hits,
            embedder=self.memo,
            pool=null(),
        )
        self.validated = time.perf_counter() - t
        self.timings["validate"] += self.validated
        attempt = Attempt(
            n=n,
            strategy=strategy,
            template=program.label,
            queries=found.queries,
            answer=answer,
            answerable=answerable,
            citations=tuple(numbers),
            verdicts=verdicts,
            grounding=grounding,
            passed=all(v.ok for v in verdicts),
            seconds=time.perf_counter() - started,
            tokens=result.tokens,
            hits=found.hits,
        )
        return attempt, result.text


def ask(
    question: str,
    *,
    store: Store,
    embedder: Embedder,
    index,
    llm: LLM,
    options: AskOptions = AskOptions(),
    pool: Callable[[], NullPool] | None = None,
) -> Answer:
    """Answer one question from the store's documents. `pool` gives the unrelated sentences
    groundedness is calibrated against (docqa.components caches them); by default they are
    drawn from the store."""
    started = time.perf_counter()
    age = startup()
    rec = Recorder(store.journal, options.log)
    loop = _Loop(clean_question(question), store, embedder, index, llm, options, rec)
    timings, tokens = loop.timings, loop.tokens
    try:
        t = time.perf_counter()
        embedder.load()
        llm.load()
        timings["load"] = time.perf_counter() - t
        turn = None
        user = options.user or ANONYMOUS
        if options.session:
            session = open_session(store, options.session, user)
            loop.history = history(store, options.session, user, options.history, loop.forbidden)
            turn = (session.get("turns") or 0) + 1
        context = _context_query(loop.question, loop.history)
        found = loop.retrieve(context)
        rec.begin(
            Opening(
                question=loop.question,
                user=user.name,
                session=options.session,
                turn=turn,
                mode=options.mode,
                template=options.main_template,
                model=llm.name,
                embedder=embedder.name,
                k=options.k,
                question_embedding=found.vector.astype("float32").tobytes(),
            )
        )
        rec.step(Features(user.name, user.features, list(user.groups)))
        rec.step(Embed(int(found.vector.shape[0])), found.timings["embed"])
        rec.step(_retrieved(found, 1), found.timings["retrieve"])
        score = outlier_score(found.hits)
        flags = question_flags(loop.question, score, store.journal.outlier_scores())
        rec.step(Guard(flags))
        if options.guard and reasons(flags):
            return _withheld(loop, rec, started, flags, score, found, turn)
        # built (or read from its cache) when the first answer is validated, not before the
        # first token
        null = functools.cache(
            pool
            if pool is not None
            else lambda: pool_from_store(store, embedder, None, options.user)
        )

        attempts: list[Attempt] = []
        prompts: dict[int, str] = {}  # by attempt
        strategies = plan(options.mode, options.max_attempts)
        for n, strategy in enumerate(strategies, start=1):
            if strategy == "rewrite":
                found = loop.retrieve((loop.rewrite(n), *context))
                rec.step(_retrieved(found, n), found.timings["retrieve"])
            last, prompts[n] = loop.attempt(
                n, strategy, found, attempts[-1] if attempts else None, null
            )
            attempts.append(last)
            following = "final" if last.passed or n == len(strategies) else strategies[n]
            rec.step(Validate.of(last, following), loop.validated)
            if last.passed:
                break
        status, chosen = decide(attempts)
    except DocqaError as exc:
        rec.finish(Outcome("error", error=str(exc), seconds=time.perf_counter() - started))
        raise

    final = chosen if chosen is not None else attempts[-1]
    hits = final.hits
    if chosen is None:
        answer_text, citations, grounding = NOT_FOUND, (), None
    else:
        answer_text, grounding = chosen.answer, chosen.grounding
        citations = tuple(Citation(n, hits[n - 1]) for n in chosen.citations if 1 <= n <= len(hits))
    flags.update(answer_flags(answer_text))
    if options.guard and reasons(flags):
        status, answer_text, citations, grounding = "withheld", _withheld_text(flags), (), None
    timings["total"] = time.perf_counter() - started
    if loop.first_token_at is not None:  # from the question to the first answer token
        timings["first_token"] = loop.first_token_at - started
    if age is not None:  # from the process's start to the question (first question only)
        timings["startup"] = age
    rec.step(AnswerStep(status, None if chosen is None else chosen.n, [c.n for c in citations]))
    rec.finish(
        Outcome(
            status,
            answer=answer_text,
            answerable=int(status not in ("unanswerable", "withheld")),
            citations=[{"n": c.n, "chunk_id": c.hit.chunk_id} for c in citations],
            timings=timings,
            seconds=timings["total"],
            prompt=prompts[final.n],
            raw_output=json.dumps(
                [{"attempt": a.n, "answer": a.answer} for a in attempts], ensure_ascii=False
            ),
            prompt_tokens=tokens["prompt"],
            cached_tokens=tokens["cached"],
            completion_tokens=tokens["completion"],
            attempts=len(attempts),
            groundedness=None if grounding is None else grounding.score,
            flags=flags,
            outlier_score=score,
        )
    )
    return Answer(
        id=rec.id,
        question=loop.question,
        answer=answer_text,
        answerable=status not in ("unanswerable", "withheld"),
        citations=citations,
        hits=hits,
        status=status,
        model=llm.name,
        template=options.main_template if chosen is None else chosen.template,
        timings=timings,
        tokens=tokens,
        attempts=tuple(attempts),
        grounding=grounding,
        session=options.session,
        turn=turn,
        flags=flags,
    )


def _withheld_text(flags: dict) -> str:
    return "Withheld: " + "; ".join(reasons(flags)) + "."


def _withheld(loop, rec, started, flags, score, found, turn) -> Answer:
    """The answer when a guard stops the question before any generation."""
    text = _withheld_text(flags)
    loop.timings["total"] = time.perf_counter() - started
    rec.step(AnswerStep("withheld", None, []))
    rec.finish(
        Outcome(
            "withheld",
            answer=text,
            answerable=0,
            citations=[],
            timings=loop.timings,
            seconds=loop.timings["total"],
            attempts=0,
            flags=flags,
            outlier_score=score,
            prompt_tokens=0,
            cached_tokens=0,
            completion_tokens=0,
        )
    )
    return Answer(
        id=rec.id,
        question=loop.question,
        answer=text,
        answerable=False,
        citations=(),
        hits=found.hits,
        status="withheld",
        model=loop.llm.name,
        template=loop.options.main_template,
        timings=loop.timings,
        tokens=loop.tokens,
        session=loop.options.session,
        turn=turn,
        flags=flags,
    )


def open_session(store: Store, name: str, user: Profile) -> dict:
    """The session's row, claimed for `user` if new; another user's session is refused."""
    session = store.people.claim_session(name, user.name)
    if session.get("user") != user.name:
        raise UsageError(f"session {name!r} belongs to another user: start a new one")
    return session


def history(
    store: Store, name: str, user: Profile, limit: int, forbidden: set[int] | None = None
) -> list[dict]:
    """The user's last turns in a session, without those that cite chunks the user may no
    longer read (their answers came from them)."""
    if forbidden is None:
        forbidden = store.corpus.forbidden_chunks(user)
    turns = store.journal.session_turns(name, limit, user.name)
    return [t for t in turns if not forbidden.intersection(t["chunks"])]


def _context_query(question: str, history: list[dict]) -> tuple[str, ...]:
    """A follow-up ("and when was it built?") is also searched with the two questions before
    it in front of it, so retrieval knows what "it" is, even after a follow-up of a
    follow-up."""
    if not history:
        return ()
    return (" ".join([*(t["question"] for t in history[-2:]), question]),)


def _variables(found: SearchResult, history: list[dict], note: str, user: Profile | None) -> dict:
    sources = [
        {
            "n": i,
            "path": h.path,
            "title": Path(h.path).name,
            "heading": h.heading,
            "where": h.where,
            "text": h.text,
        }
        for i, h in enumerate(found.hits, start=1)
    ]
    return {
        "question": found.question,
        "sources": sources,
        "max_citations": MAX_CITATIONS,
        "schema": answer_schema(len(found.hits)),
        "reply_tokens": REPLY_TOKENS,
        "history": [{"question": t["question"], "answer": t["answer"]} for t in history],
        "feedback": note,
        "user": (user or ANONYMOUS).template_value(),
    }


def _retrieved(found: SearchResult, attempt: int) -> Retrieve:
    return Retrieve(attempt, list(found.queries), tuple(RetrievedHit.of(h) for h in found.hits))
